import { test, expect, type Page } from '@playwright/test';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Server, type Person, peopleForEachTest, serveFixture, waitForHydration, watchMedia } from './support';

// Time to media, measured (never asserted on: timing belongs in BENCHMARKS.md): the second
// person opens the call link; from the start of that navigation we record when the peer
// connection is connected and when the first remote video frame is decoded. The same is
// measured for a plain-JavaScript page making the same call through the same server.
const RUNS = 5;
// Two links for the person opening the call: this machine's loopback, and a phone's link
// (issue 13: 1.6 Mbps down, 750 kbps up, 150 ms), applied by Chromium to that page alone.
const PROFILES = {
  loopback: undefined,
  phone: { offline: false, latency: 150, downloadThroughput: 1_600_000 / 8, uploadThroughput: 750_000 / 8 },
};
type Profile = keyof typeof PROFILES;
const person = peopleForEachTest();

// The plain page is served on a loopback origin of its own, and Tandem lets that origin in.
let plain: { origin: string; close: () => void };
let plainOrigin: string;
let server: Server;
test.beforeAll(async () => {
  plain = await serveFixture('plain-call.html');
  plainOrigin = plain.origin;
  server = await Server.start({ args: ['--allowed-origin', plainOrigin] });
  // Not while the server is still compressing the app's files on a core the browsers need.
  await server.compressed();
});
test.afterAll(async () => {
  await server?.stop();
  plain?.close();
});

interface Times {
  connected: number;
  firstFrame: number;
  /** Bytes the page fetched (as sent over the wire) before its first remote frame played. */
  bytes: number;
  fetched: { file: string; bytes: number; start: number; end: number }[];
  /** From the last wasm file arriving to the page being interactive (Tandem only). */
  hydration: number | null;
}

async function times(p: Person): Promise<Times> {
  await expect.poll(() => p.page.evaluate(() => (window as any).__firstFrameAt !== undefined && (window as any).__connectedAt !== undefined), { timeout: 20_000 }).toBe(true);
  return p.page.evaluate(() => {
    const w = window as any;
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const started = Math.min(w.__firstFrameAt, w.__playingAt ?? Infinity);
    const before = entries.filter((e) => e.startTime < started) as PerformanceResourceTiming[];
    const bytes = before.reduce((sum, e) => sum + (e.transferSize ?? 0), 0);
    // What was fetched when: the waterfall behind the figures.
    const fetched = before.map((e) => ({
      file: new URL(e.name).pathname,
      bytes: e.transferSize,
      start: Math.round(e.startTime),
      end: Math.round(e.responseEnd),
    }));
    // The plain page has no hydration (null); for the app, from the last wasm file that
    // had arrived by then.
    const arrived = before.filter((e) => e.name.endsWith('.wasm') && e.responseEnd <= (w.__hydratedAt ?? 0));
    const hydration = w.__hydratedAt === undefined ? null : w.__hydratedAt - Math.max(0, ...arrived.map((e) => e.responseEnd));
    return { connected: w.__connectedAt, firstFrame: w.__firstFrameAt, bytes, fetched, hydration };
  });
}

/** Gives `p`'s page the link of `profile` (Chromium's own throttling, that page alone). */
async function throttle(p: Person, profile: Profile): Promise<void> {
  const link = PROFILES[profile];
  if (!link) return;
  const cdp = await p.page.context().newCDPSession(p.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', link);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(kind: 'tandem' | 'plain', profile: Profile): Promise<Times[]> {
  const runs: Times[] = [];
  for (let i = 0; i < RUNS; i++) {
    const room = `ttm-${kind}-${Date.now()}-${i}`;
    const [alice, bob] = [await person(), await person()];
    const signaling = `${server.url.replace('http', 'ws')}/ws`;
    const url = (name: string) =>
      kind === 'tandem'
        ? `${server.url}/call/${name}/${room}`
        : `${plainOrigin}/?name=${name}&room=${room}&ws=${encodeURIComponent(signaling)}`;
    if (kind === 'tandem') {
      await alice.openLink(url('Alice'));
      await waitForHydration(alice.page);
      await expect(alice.status()).toHaveText('Waiting for someone to join.');
    } else {
      await alice.page.goto(url('Alice'));
      await alice.page.waitForFunction(() => (window as any).__joined === true);
    }
    await watchMedia(bob.page);
    await throttle(bob, profile);
    // A link to the app opens on the join card: Bob presses Join now as soon as it is
    // there, so this is the time a person takes plus no time at all.
    if (kind === 'tandem') await bob.openLink(url('Bob'));
    else await bob.page.goto(url('Bob'));
    runs.push(await times(bob));
    await Promise.all([alice.close(), bob.close()]);
  }
  return runs;
}

test('time to media: the app and a plain-JavaScript page, on loopback and a phone link, median of 5 calls each', async () => {
  test.setTimeout(600_000);
  const results: Record<string, { runs: Times[]; median: Omit<Times, 'fetched'> }> = {};
  for (const [profile, kind] of (['loopback', 'phone'] as const).flatMap((p) => (['tandem', 'plain'] as const).map((k) => [p, k] as const))) {
    const runs = await measure(kind, profile);
    for (const r of runs) {
      // Both moments happened. Not necessarily in order as seen from here: Chromium may
      // decode the first frame a few milliseconds before `connectionState` says so.
      expect(r.connected).toBeGreaterThan(0);
      expect(r.firstFrame).toBeGreaterThan(0);
      if (kind === 'tandem') {
        // What the bench counts is the call's code, without the panels that wait for it.
        const files = r.fetched.map((f) => f.file);
        expect(files.some((f) => f.includes('/split___call_route'))).toBe(true);
        expect(files.filter((f) => /\/split_(file_panel|device_picker|stats_panel)/.test(f))).toEqual([]);
      }
    }
    results[`${kind}-${profile}`] = {
      runs,
      median: {
        connected: median(runs.map((r) => r.connected)),
        firstFrame: median(runs.map((r) => r.firstFrame)),
        bytes: median(runs.map((r) => r.bytes)),
        hydration: kind === 'tandem' ? median(runs.map((r) => r.hydration ?? 0)) : null,
      },
    };
  }
  // The home page, opened fresh: everything it fetched until it is interactive.
  const visitor = await person();
  await visitor.page.goto(`${server.url}/`);
  await waitForHydration(visitor.page);
  const home = await visitor.page.evaluate(() =>
    ([...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')] as PerformanceResourceTiming[]).map((e) => ({
      file: new URL(e.name).pathname,
      bytes: e.transferSize,
    })),
  );
  const homeBytes = home.reduce((sum, e) => sum + e.bytes, 0);
  await visitor.close();
  const out = path.join(__dirname, '..', 'test-results', 'time-to-media.json');
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify({ ...results, home: { bytes: homeBytes, fetched: home } }, null, 2));
  console.log(`home page: ${(homeBytes / 1024).toFixed(0)} KiB fetched until interactive`);
  const fmt = (t: Omit<Times, 'fetched'>) =>
    `connected ${t.connected.toFixed(0)} ms, first frame ${t.firstFrame.toFixed(0)} ms, ${(t.bytes / 1024).toFixed(0)} KiB fetched, hydration ${t.hydration === null ? 'n/a' : `${t.hydration.toFixed(0)} ms`}`;
  for (const profile of ['loopback', 'phone']) {
    const [app, js] = [results[`tandem-${profile}`].median, results[`plain-${profile}`].median];
    console.log(`time to media, ${profile} (median of ${RUNS}, from opening the link): Tandem ${fmt(app)}; plain JS ${fmt(js)}; ratio ${(app.firstFrame / js.firstFrame).toFixed(2)}`);
  }
});

/** Alice waiting in `room` (the app's call page), and Bob's browser watched and given
 * `profile`'s link, about to come in from the home page. */
async function aliceWaitsForBob(room: string, profile: Profile): Promise<[Person, Person]> {
  const [alice, bob] = [await person(), await person()];
  await alice.openLink(`${server.url}/call/Alice/${room}`);
  await waitForHydration(alice.page);
  await expect(alice.status()).toHaveText('Waiting for someone to join.');
  await watchMedia(bob.page);
  await throttle(bob, profile);
  return [alice, bob];
}

/** Bob opens the home page, types his name and the room at once, reads for `pauseMs`, then
 * presses Join: the time from that press to his first remote frame, in each of `RUNS` calls. */
async function measureFromHome(profile: Profile, pauseMs: number): Promise<{ firstFrame: number; callShown: number }[]> {
  const runs: { firstFrame: number; callShown: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const room = `ttm-home-${Date.now()}-${i}`;
    const [alice, bob] = await aliceWaitsForBob(room, profile);
    await bob.page.goto(`${server.url}/`);
    await bob.page.getByLabel('Your name').fill('Bob');
    await bob.page.getByLabel('Room').fill(room);
    await bob.page.waitForTimeout(pauseMs);
    await waitForHydration(bob.page);
    const pressed = await bob.page.evaluate(() => performance.now());
    await bob.page.getByRole('button', { name: 'Join' }).click();
    const t = await times(bob);
    const shown = await bob.page.evaluate(() => (window as any).__callShownAt as number);
    runs.push({ firstFrame: t.firstFrame - pressed, callShown: shown - pressed });
    await Promise.all([alice.close(), bob.close()]);
  }
  return runs;
}

/** One call from the home page without a pause: from opening it to the first remote frame. */
type AtOnce = { ms: number; fetched: Times['fetched']; /** The app was there before Join. */ hydratedFirst: boolean };

/** Bob opens the home page, types his name and the room as soon as the form is there and
 * presses Join at once, app or no app (before it, the form is sent as it is and the server
 * answers with the call's page): the time from opening the home page to his first remote
 * frame, as issue 25's "no pause" journey, with what the call's page fetched. */
async function measureFromHomeAtOnce(profile: Profile): Promise<AtOnce[]> {
  const runs: AtOnce[] = [];
  for (let i = 0; i < RUNS; i++) {
    const room = `ttm-home-now-${Date.now()}-${i}`;
    const [alice, bob] = await aliceWaitsForBob(room, profile);
    const opened = Date.now();
    await bob.page.goto(`${server.url}/`, { waitUntil: 'commit' });
    await bob.page.getByLabel('Your name').fill('Bob');
    await bob.page.getByLabel('Room').fill(room);
    const hydratedFirst = await bob.page.evaluate(() => document.documentElement.hasAttribute('data-hydrated'));
    await bob.page.getByRole('button', { name: 'Join' }).click();
    const t = await times(bob);
    // The first frame is timed on the call's page, which may be a document of its own.
    const at = await bob.page.evaluate((f) => performance.timeOrigin + f, t.firstFrame);
    runs.push({ ms: at - opened, fetched: t.fetched, hydratedFirst });
    await Promise.all([alice.close(), bob.close()]);
  }
  return runs;
}

test('time to media from the home page: Join after 3 s of reading and typing, against the plain page opened then', async () => {
  test.setTimeout(600_000);
  const results: Record<string, { runs: number[]; median: number; details?: unknown }> = {};
  for (const profile of ['loopback', 'phone'] as const) {
    const fromHome = await measureFromHome(profile, 3_000);
    const home = fromHome.map((r) => r.firstFrame);
    const shown = fromHome.map((r) => r.callShown);
    const atOnce = await measureFromHomeAtOnce(profile);
    const plainRuns = (await measure('plain', profile)).map((r) => r.firstFrame);
    const now = atOnce.map((r) => r.ms);
    results[`tandem-home-${profile}`] = { runs: home, median: median(home) };
    results[`tandem-home-call-shown-${profile}`] = { runs: shown, median: median(shown) };
    results[`tandem-home-at-once-${profile}`] = { runs: now, median: median(now), details: atOnce };
    results[`plain-${profile}`] = { runs: plainRuns, median: median(plainRuns) };
    console.log(
      `from home after 3 s, ${profile} (median of ${RUNS}): Join → first frame ${median(home).toFixed(0)} ms; ` +
        `plain JS, opened → first frame ${median(plainRuns).toFixed(0)} ms; ratio ${(median(home) / median(plainRuns)).toFixed(2)}; ` +
        `Join → call screen shown ${median(shown).toFixed(0)} ms`,
    );
    console.log(
      `from home at once, ${profile} (median of ${RUNS}): home opened → first frame ${median(now).toFixed(0)} ms ` +
        `(app there before Join in ${atOnce.filter((r) => r.hydratedFirst).length} of ${RUNS}); ratio ${(median(now) / median(plainRuns)).toFixed(2)}`,
    );
  }
  const out = path.join(__dirname, '..', 'test-results', 'time-to-media-home.json');
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(results, null, 2));
});
