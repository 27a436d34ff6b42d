import { test, expect, type Page } from '@playwright/test';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Server, type Person, peopleForEachTest, serveFixture, waitForHydration } from './support';

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
  /** Bytes the page fetched (as sent over the wire) up to its first remote frame. */
  bytes: number;
}

/** Records, from navigation start, when the page's peer connection connects and decodes
 * its first remote video frame. */
async function watchMedia(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as any;
    const timer = setInterval(async () => {
      const pc: RTCPeerConnection | undefined = w.__pcs?.[w.__pcs.length - 1];
      if (!pc) return;
      if (w.__connectedAt === undefined && pc.connectionState === 'connected') w.__connectedAt = performance.now();
      if (w.__firstFrameAt === undefined) {
        (await pc.getStats()).forEach((r: any) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0 && w.__firstFrameAt === undefined) {
            w.__firstFrameAt = performance.now();
          }
        });
      }
      if (w.__connectedAt !== undefined && w.__firstFrameAt !== undefined) clearInterval(timer);
    }, 5);
  });
}

async function times(p: Person): Promise<Times> {
  await expect.poll(() => p.page.evaluate(() => (window as any).__firstFrameAt !== undefined && (window as any).__connectedAt !== undefined), { timeout: 20_000 }).toBe(true);
  return p.page.evaluate(() => {
    const w = window as any;
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const bytes = entries
      .filter((e) => e.startTime <= w.__firstFrameAt)
      .reduce((sum, e) => sum + ((e as PerformanceResourceTiming).transferSize ?? 0), 0);
    return { connected: w.__connectedAt, firstFrame: w.__firstFrameAt, bytes };
  });
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
    await alice.page.goto(url('Alice'));
    if (kind === 'tandem') {
      await waitForHydration(alice.page);
      await expect(alice.status()).toHaveText('Waiting for someone to join.');
    } else {
      await alice.page.waitForFunction(() => (window as any).__joined === true);
    }
    await watchMedia(bob.page);
    const link = PROFILES[profile];
    if (link) {
      const cdp = await bob.page.context().newCDPSession(bob.page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', link);
    }
    await bob.page.goto(url('Bob'));
    runs.push(await times(bob));
    await Promise.all([alice.close(), bob.close()]);
  }
  return runs;
}

test('time to media: the app and a plain-JavaScript page, on loopback and a phone link, median of 5 calls each', async () => {
  test.setTimeout(600_000);
  const results: Record<string, { runs: Times[]; median: Times }> = {};
  for (const [profile, kind] of (['loopback', 'phone'] as const).flatMap((p) => (['tandem', 'plain'] as const).map((k) => [p, k] as const))) {
    const runs = await measure(kind, profile);
    for (const r of runs) {
      // Both moments happened, in order: no frame is decoded before the connection is up.
      expect(r.connected).toBeGreaterThan(0);
      expect(r.firstFrame).toBeGreaterThanOrEqual(r.connected);
    }
    results[`${kind}-${profile}`] = {
      runs,
      median: {
        connected: median(runs.map((r) => r.connected)),
        firstFrame: median(runs.map((r) => r.firstFrame)),
        bytes: median(runs.map((r) => r.bytes)),
      },
    };
  }
  const out = path.join(__dirname, '..', 'test-results', 'time-to-media.json');
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(results, null, 2));
  const fmt = (t: Times) =>
    `connected ${t.connected.toFixed(0)} ms, first frame ${t.firstFrame.toFixed(0)} ms, ${(t.bytes / 1024).toFixed(0)} KiB fetched`;
  for (const profile of ['loopback', 'phone']) {
    const [app, js] = [results[`tandem-${profile}`].median, results[`plain-${profile}`].median];
    console.log(`time to media, ${profile} (median of ${RUNS}, from opening the link): Tandem ${fmt(app)}; plain JS ${fmt(js)}; ratio ${(app.firstFrame / js.firstFrame).toFixed(2)}`);
  }
});
