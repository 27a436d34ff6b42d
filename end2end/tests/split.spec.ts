import { test, expect, type Page } from '@playwright/test';
import { peopleForEachTest, sharedServer, waitForHydration } from './support';

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

const fileName = (url: string) => new URL(url).pathname.split('/').pop()!;

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

test('the home page loads without the call screen', async () => {
  const p = await person();
  const html = await (await p.page.request.get(`${server().url}/`)).text();
  expect(html).not.toContain('split___call_route');
  const requested = wasmRequests(p.page);
  await p.page.goto(`${server().url}/`);
  await waitForHydration(p.page);
  // The main module and nothing else: no call screen, no chunk it shares with the panels.
  expect(requested).toEqual([expect.stringMatching(/^tandem\.[\w-]+\.wasm$/)]);
});

test('a call link fetches the call screen alongside the main wasm, and joining from home loads it then', async () => {
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

  // From the home page, the call screen's code comes with the click on Join.
  const q = await person();
  const requested = wasmRequests(q.page);
  await q.page.goto(`${server().url}/`);
  await waitForHydration(q.page);
  expect(requested.some(isCallChunk)).toBe(false);
  await q.page.getByLabel('Your name').fill('Bo');
  await q.page.getByLabel('Room').fill(`split-home-${Date.now()}`);
  await q.page.getByRole('button', { name: 'Join' }).click();
  await expect(q.status()).toHaveText('Waiting for someone to join.');
  expect(requested.some(isCallChunk)).toBe(true);
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
