import { test, expect, type Page } from '@playwright/test';
import { holdTheApp, peopleForEachTest, sharedServer, waitForHydration } from './support';

// The client is split (`cargo leptos --split`, issue 13): the home page must not load the
// call screen, a call link must fetch the call's code from the start (not after
// hydration), and the panels arrive only when they are needed.
const server = sharedServer();
const person = peopleForEachTest();

/** Every wasm file the page asks for from now on (in flight or done), by file name. */
function wasmRequests(page: Page): string[] {
  const files: string[] = [];
  page.on('request', (r) => {
    const file = fileName(r.url());
    if (file.endsWith('.wasm')) files.push(file);
  });
  return files;
}

const fileName = (url: string) => url.split('?')[0].split('/').pop()!;

/** The wasm files the page has fetched, with when each started and arrived. */
async function wasmFetched(page: Page) {
  const entries = await page.evaluate(() =>
    (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
      .filter((e) => e.name.endsWith('.wasm'))
      .map((e) => ({ url: e.name, start: e.startTime, end: e.responseEnd })),
  );
  return entries.map(({ url, start, end }) => ({ file: fileName(url), start, end }));
}

const isCallChunk = (file: string) => file.startsWith('split___call_route');
/** The device picker's camera list. */
const camera = (page: Page) => page.getByRole('combobox', { name: 'Camera', exact: true });

test('the home page fetches the call screen once it is interactive and idle, and never a panel', async () => {
  const p = await person();
  const html = await (await p.page.request.get(`${server().url}/`)).text();
  // Named for later, not preloaded by the page itself.
  expect(html).not.toMatch(/<link[^>]*split___call_route/);
  expect(html).toContain('name="tandem-call-chunks"');
  const requested = wasmRequests(p.page);
  await p.page.goto(`${server().url}/`);
  await waitForHydration(p.page);
  const hydratedAt = await p.page.evaluate(() => performance.now());
  // At first the main module and nothing else…
  expect(requested).toEqual([expect.stringMatching(/^tandem\.[\w-]+\.wasm$/)]);
  // …then, the page idle, exactly the files the page named: the call screen's, no panel's;
  // each once to fetch it, and once more, from the cache, to compile it once all are here.
  const named = (await p.page.locator('meta[name="tandem-call-chunks"]').getAttribute('content'))!
    .split(' ').map(fileName);
  expect(named.some(isCallChunk)).toBe(true);
  await expect.poll(() => requested.length, { timeout: 10_000 }).toBe(2 * named.length + 1);
  expect(new Set(requested.slice(1, named.length + 1))).toEqual(new Set(named));
  expect(new Set(requested.slice(named.length + 1))).toEqual(new Set(named));
  expect(requested.filter((f) => /^split_(stats_panel|file_panel|device_picker)/.test(f))).toEqual([]);
  for (const f of (await wasmFetched(p.page)).filter((f) => named.includes(f.file))) {
    expect(f.start, `${f.file} asked for after the page was interactive`).toBeGreaterThan(hydratedAt);
  }
});

test('a name typed before the app was there counts as a keystroke: the call screen is fetched as soon as the app is, not after the glance', async () => {
  for (const typed of [false, true]) {
    const p = await person();
    // Timers stand still: the moment of looking at the page never ends by itself.
    await p.page.clock.install({ time: 0 });
    await p.page.clock.pauseAt(1_000);
    const requested = wasmRequests(p.page);
    const release = await holdTheApp(p.page);
    await p.page.goto(`${server().url}/?room=invited`, { waitUntil: 'domcontentloaded' });
    if (typed) await p.page.getByLabel('Your name').fill('Quick');
    release();
    await waitForHydration(p.page);
    if (typed) {
      await expect.poll(() => requested.some(isCallChunk)).toBe(true);
    } else {
      // Only looked at (the room came with the link, nothing typed): once every task the
      // app queued at hydration has run (a message-channel round trip; the page's timers
      // stand still), nothing more is asked for, until the glance is over.
      await p.page.evaluate(
        () => new Promise((done) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = () => done(null);
          channel.port2.postMessage(null);
        }),
      );
      expect(await p.page.locator('link[rel="prefetch"]').count()).toBe(0);
      expect(requested.some(isCallChunk)).toBe(false);
      await p.page.clock.runFor(1_500);
      await expect.poll(() => requested.some(isCallChunk)).toBe(true);
    }
  }
});

test('a call link fetches the call screen alongside the main wasm, and from home it is fetched and compiled before Join', async () => {
  const p = await person();
  const room = `split-${Date.now()}`;
  // The server names the call's chunks in the page, so the browser fetches them at once.
  const html = await (await p.page.request.get(`${server().url}/call/Ann/${room}`)).text();
  expect(html).toMatch(/<link[^>]*href="\/pkg\/split___call_route[^"]*\.wasm"[^>]*rel="preload"/);

  await p.openLink(`${server().url}/call/Ann/${room}`);
  await waitForHydration(p.page);
  await expect(p.status()).toHaveText('Waiting for someone to join.');
  const fetched = await wasmFetched(p.page);
  const main = fetched.find((f) => f.file.startsWith('tandem.'))!;
  const call = fetched.find((f) => isCallChunk(f.file))!;
  expect(call, 'the call chunk was fetched').toBeTruthy();
  // In parallel: the call chunk was asked for before the main wasm had even arrived.
  expect(call.start).toBeLessThan(main.end);

  // From the home page, the call screen's code is there before the click on Join.
  const q = await person();
  const requested = wasmRequests(q.page);
  await q.page.goto(`${server().url}/`);
  await waitForHydration(q.page);
  expect(requested.some(isCallChunk)).toBe(false);
  // Typing asks for the call screen's code at once; Join then finds it in the cache.
  await q.page.getByLabel('Your name').fill('Bo');
  await expect.poll(() => requested.some(isCallChunk)).toBe(true);
  // Once arrived, it is compiled: the chunk loader fetches it again, from the cache.
  await expect
    .poll(async () => (await wasmFetched(q.page)).filter((f) => isCallChunk(f.file) && f.end > 0).length)
    .toBe(2);
  expect((await wasmFetched(q.page)).filter((f) => isCallChunk(f.file)).map((f) => f.file)).toHaveLength(2);
  await q.page.getByLabel('Room').fill(`split-home-${Date.now()}`);
  const clicked = await q.page.evaluate(() => performance.now());
  await q.page.getByRole('button', { name: 'Join' }).click();
  await expect(q.status()).toHaveText('Waiting for someone to join.');
  const afterJoin = await q.page.evaluate((t) =>
    (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
      .filter((e) => e.startTime > t && e.name.endsWith('.wasm'))
      .map((e) => ({ file: e.name.split('/').pop(), bytes: e.transferSize })), clicked);
  // Join asks for none of the call screen's files: they were fetched and compiled (the
  // panels' arrive later, as ever).
  const named = (await q.page.locator('meta[name="tandem-call-chunks"]').getAttribute('content'))!
    .split(' ').map(fileName);
  expect(afterJoin.filter((e) => named.includes(e.file!)), 'fetched again on Join').toEqual([]);
});

test('Join pressed while the call screen is still being prefetched: the call starts, and nothing breaks when the prefetch ends', async () => {
  const p = await person();
  const failures: string[] = [];
  p.page.on('pageerror', (e) => failures.push(e.message));
  p.page.on('console', (m) => {
    if (m.text().includes('panicked')) failures.push(m.text());
  });
  // The home page's prefetch of the call screen ends only once the call is on screen (the
  // route's own fetches of the same files go through).
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  await p.page.route(/\/pkg\/(split___call_route|chunk_)[^/]*\.wasm$/, async (route) => {
    if (route.request().resourceType() !== 'fetch') await released;
    await route.continue().catch(() => {});
  });
  await p.page.goto(`${server().url}/`);
  await waitForHydration(p.page);
  await p.page.getByLabel('Your name').fill('Hasty');
  await p.page.getByLabel('Room').fill(`split-hasty-${Date.now()}`);
  await p.page.getByRole('button', { name: 'Join' }).click();
  await expect(p.status()).toHaveText('Waiting for someone to join.');
  release();
  // The prefetch's end, heard after the home page was gone, did no harm: every prefetch
  // link's file has arrived, and its load event (a task after that) has been handled.
  await expect
    .poll(() =>
      p.page.evaluate(() => {
        const links = [...document.querySelectorAll('link[rel="prefetch"]')].map((l) => (l as HTMLLinkElement).href);
        const arrived = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
          .filter((e) => e.initiatorType === 'link' && e.responseEnd > 0)
          .map((e) => e.name);
        return links.length > 0 && links.every((href) => arrived.includes(href));
      }),
    )
    .toBe(true);
  await p.page.evaluate(
    () =>
      new Promise((done) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => done(null);
        channel.port2.postMessage(null);
      }),
  );
  expect(failures).toEqual([]);
});

test('the stats panel loads when first opened; files and devices once the call has started', async () => {
  const p = await person();
  const requested = wasmRequests(p.page);
  await p.openLink(`${server().url}/call/Ann/split-panels-${Date.now()}`);
  await waitForHydration(p.page);
  await expect(p.status()).toHaveText('Waiting for someone to join.');
  // Waiting alone is a started call: the file panel and the device picker are there.
  await expect(p.page.getByRole('region', { name: 'Files' })).toBeVisible();
  await expect(camera(p.page)).toBeVisible();
  const stats = () => requested.some((f) => f.startsWith('split_stats_panel'));
  expect(stats()).toBe(false);
  await p.page.getByRole('button', { name: 'Stats' }).click();
  await expect(p.page.getByRole('region', { name: 'Call statistics' })).toBeVisible();
  expect(stats()).toBe(true);
});

test('a panel whose code cannot be fetched says so, the call goes on, and trying again loads it', async () => {
  const p = await person();
  // The link drops just as the file panel's chunk is asked for.
  await p.page.route(/split_file_panel[^/]*\.wasm$/, (route) => route.abort('internetdisconnected'));
  await p.openLink(`${server().url}/call/Ann/split-offline-${Date.now()}`);
  await waitForHydration(p.page);
  await expect(p.status()).toHaveText('Waiting for someone to join.');
  const missing = p.page.getByRole('alert').filter({ hasText: 'The file panel could not be loaded.' });
  await expect(missing).toBeVisible();
  // The app is alive: the controls still work, and the other panel arrived.
  const mute = p.page.getByRole('button', { name: 'Mute', exact: true });
  await mute.click();
  await expect(mute).toHaveAttribute('aria-pressed', 'true');
  await expect(camera(p.page)).toBeVisible();

  await p.page.unroute(/split_file_panel[^/]*\.wasm$/);
  await missing.getByRole('button', { name: 'Try again' }).click();
  await expect(p.page.getByRole('region', { name: 'Files' })).toBeVisible();
  await expect(missing).toHaveCount(0);
});
