import { test, expect, type CDPSession } from '@playwright/test';
import { Server, type Person, peopleForEachTest, serveFixture } from './support';

// The other browser is untrusted input. A hostile page (end2end/fixtures/hostile-peer.html)
// joins a real call with the real protocol and plays a corpus of attacks against Ann, while
// Ben, an honest person, stays in the call. After every attack Ann's page has not
// panicked, answers Mute within 200 ms (measured while the attack runs), still gets Ben's
// chat and video, and keeps its JavaScript heap under a bound.
const person = peopleForEachTest();
/** What Ann's JS heap may hold, whatever the peer sends (seen: under 4 MiB). */
const HEAP_BOUND_BYTES = 32 * 1024 * 1024;
const MUTE_WITHIN_MS = 200;
/** Largest file people may send here: a 1 GiB announcement is refused up front. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

let fixture: { origin: string; close: () => void };
let fixtureOrigin: string;
let server: Server;
test.beforeAll(async () => {
  fixture = await serveFixture('hostile-peer.html');
  fixtureOrigin = fixture.origin;
  server = await Server.start({
    args: [
      '--allowed-origin', fixtureOrigin,
      '--max-file-bytes', String(MAX_FILE_BYTES),
      // Floods over the relay reach Ann instead of being cut off by the server first.
      '--rate-limit', '400', '--rate-burst', '1000',
    ],
  });
});
test.afterAll(async () => {
  await server?.stop();
  fixture?.close();
});

/** Time from a click on Mute to its `aria-pressed` changing, in Ann's page. */
async function muteLatency(p: Person): Promise<number> {
  // Timed when the page changes the button (a MutationObserver runs right after the change),
  // not when a timer of the test's own gets its turn behind the flood's events: on loaded
  // cores a 1 ms poll saw at 148 ms a change the page had made at 47 ms.
  return p.page.getByRole('button', { name: 'Mute', exact: true }).evaluate(
    (button) =>
      new Promise<number>((done) => {
        const before = button.getAttribute('aria-pressed');
        const start = performance.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const observer = new MutationObserver(() => {
          if (button.getAttribute('aria-pressed') !== before) finish();
        });
        function finish() {
          observer.disconnect();
          clearTimeout(timer);
          done(performance.now() - start);
        }
        observer.observe(button, { attributes: true, attributeFilter: ['aria-pressed'] });
        timer = setTimeout(finish, 10_000);
        (button as HTMLButtonElement).click();
      }),
  );
}

const notice = (p: Person) => p.page.locator('.notes [role=alert]');

/** What the page says right after some attacks. */
const SAYS: Record<string, string> = {
  'chat flood: 1,000 lines a second for 10 s': 'Mallory is sending messages too fast; some were not shown.',
  'chat: 100 lines of 64 KiB': 'Mallory sent a message that was too long.',
  'garbage SDP offers': "Mallory's browser sent something that could not be used.",
};

/** Counts, in Ann's page, animation frames and the batches of changes to Mallory's tile. */
async function countRedraws(p: Person): Promise<void> {
  await p.page.evaluate(() => {
    const w = window as any;
    w.__frames = 0;
    w.__redraws = 0;
    w.__counting = true;
    const tile = document.querySelector('video[aria-label="Video from Mallory"]')!.closest('.tile')!;
    w.__observer = new MutationObserver(() => w.__redraws++);
    w.__observer.observe(tile, { subtree: true, attributes: true, childList: true, characterData: true });
    const frame = () => {
      w.__frames++;
      if (w.__counting) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}

async function heapUsed(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
  return usedSize;
}

test('a peer that lies, floods or sends garbage cannot freeze, crash or trick the page', async () => {
  test.setTimeout(600_000);
  const room = `hostile-${Date.now()}`;
  const ann = await person();
  const ben = await person();
  const mallory = await person();
  const panics: string[] = [];
  ann.page.on('pageerror', (e) => panics.push(`page error: ${e.message}`));
  // The page notes in its console any event that kept its controls waiting.
  const slow: string[] = [];
  const slowAll: string[] = [];
  const warnings: string[] = [];
  ann.page.on('console', (m) => {
    if (m.type() === 'warning') warnings.push(m.text());
    if (/panicked at|RuntimeError|unreachable/.test(m.text())) panics.push(m.text());
    if (m.text().includes('slow event:')) {
      slow.push(m.text());
      slowAll.push(m.text());
    }
  });
  await ann.openLink(`${server.url}/call/Ann/${room}`);
  await ben.openLink(`${server.url}/call/Ben/${room}`);
  await expect(ann.status()).toHaveText('Connected with Ben.');
  const ws = server.url.replace('http', 'ws') + '/ws';
  await mallory.page.goto(`${fixtureOrigin}/?ws=${encodeURIComponent(ws)}&room=${room}&name=Mallory&target=Ann`);
  await mallory.page.waitForFunction(() => (window as any).hostileReady !== undefined, null, { timeout: 30_000 });
  await expect.poll(() => mallory.page.evaluate(() => Promise.race([(window as any).hostileReady, false])), { timeout: 30_000 }).toBe(true);
  await expect(ann.status()).toHaveText('Connected with Ben and Mallory.');
  const cdp = await ann.page.context().newCDPSession(ann.page);

  const names: string[] = await mallory.page.evaluate(() => (window as any).attackNames);
  expect(names.length).toBeGreaterThanOrEqual(30);
  const benVideo = ann.page.getByLabel('Video from Ben');
  const record: { attack: string; muteMs: number; heapMB: number }[] = [];
  for (const [i, name] of names.entries()) {
    await test.step(name, async () => {
      const media = /^(media-state|reaction|hand) flood/.test(name);
      if (media) await countRedraws(ann);
      const attack = mallory.page.evaluate((n) => (window as any).attack(n), name);
      // Mute answers while the attack runs (a flood is in full swing after a moment).
      await ann.page.waitForTimeout(name.startsWith('chat flood') ? 2_000 : 50);
      slow.length = 0;
      const muteMs = Math.max(await muteLatency(ann), await muteLatency(ann));
      await attack;
      if (media) {
        // 20,000 hints cost at most one redraw of her tile per animation frame.
        const { frames, redraws } = await ann.page.evaluate(() => {
          const w = window as any;
          w.__counting = false;
          w.__observer.disconnect();
          return { frames: w.__frames, redraws: w.__redraws };
        });
        expect(redraws, `${redraws} redraws in ${frames} frames`).toBeLessThanOrEqual(frames + 1);
      }
      if (name.startsWith('reaction flood')) {
        // A few float over her tile, never the flood.
        const over = await ann.page.locator('.tile:has(video[aria-label="Video from Mallory"]) .reaction').count();
        expect(over).toBeLessThanOrEqual(3);
      }
      if (SAYS[name]) {
        await expect(notice(ann)).toHaveText(SAYS[name]).catch(async (e) => {
          const notes = await ann.page.locator('.notes').innerText().catch(() => '?');
          throw new Error(`${e.message}\nthe notes then: ${JSON.stringify(notes)}`);
        });
      }
      expect(muteMs, `${name}: Mute answered in ${muteMs.toFixed(0)} ms (${slow.join('; ') || 'no slow event noted'})`).toBeLessThan(MUTE_WITHIN_MS);
      expect(panics, name).toEqual([]);
      // Ben's chat still arrives, and his picture still advances.
      const text = `honest line ${i}`;
      await ben.page.getByLabel('Message').fill(text);
      await ben.page.getByLabel('Message').press('Enter');
      // (Once, in a run of three files, Ben's line never showed during the chat flood; should
      // it happen again, the message says what each page showed then.)
      await expect(ann.page.locator('.chat-lines li .text', { hasText: text })).toHaveCount(1, { timeout: 20_000 }).catch(async (e) => {
        const annLines = await ann.page.locator('.chat-lines li').allInnerTexts();
        const benLines = await ben.page.locator('.chat-lines li').allInnerTexts();
        const states = `Ann: ${await ann.status().innerText()} Ben: ${await ben.status().innerText()}`;
        throw new Error(`${e.message}\nAnn's last lines (${annLines.length}): ${JSON.stringify(annLines.slice(-5))}\nBen's lines: ${JSON.stringify(benLines)}\n${states}\nAnn's warnings: ${JSON.stringify(warnings.slice(-20))}\nslow events: ${JSON.stringify(slowAll.slice(-5))}`);
      });
      const t0 = await benVideo.evaluate((v: HTMLVideoElement) => v.currentTime);
      await expect.poll(() => benVideo.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(t0);
      const heap = await heapUsed(cdp);
      expect(heap, name).toBeLessThan(HEAP_BOUND_BYTES);
      record.push({ attack: name, muteMs, heapMB: heap / 1048576 });
    });
  }

  // The call goes on with Mallory in it, and nothing she sent was taken for what it claimed.
  await expect(ann.status()).toHaveText('Connected with Ben and Mallory.');
  expect(await ann.page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  await expect(ann.page.locator('.chat-lines img')).toHaveCount(0);
  // Mallory's hand ended down, and a hand "up for a year" was not believed.
  await expect(ann.page.locator('.hands li')).toHaveCount(0);
  await expect(ann.page.locator('.chat-lines li .text', { hasText: 'onerror' })).toHaveCount(1);
  // Chat: over-long lines dropped with a notice, a flood cut to the rate limit, at most 500
  // lines kept.
  await expect(ann.page.locator('.chat-lines li .text', { hasText: 'yyyy' })).toHaveCount(0);
  const lines = await ann.page.locator('.chat-lines li').count();
  expect(lines).toBeLessThanOrEqual(500);
  const flood = await ann.page.locator('.chat-lines li .text', { hasText: /^flood / }).count();
  expect(flood).toBeLessThan(200);
  await expect(ann.page.locator('.chat-lines li .text', { hasText: 'from the second chat channel' })).toHaveCount(0);
  // Files: what is refused is refused up front, what lies fails, names are made safe, and
  // whatever arrives is offered as bytes to save, never as a page.
  const row = (file: string) => ann.page.locator('.transfer', { hasText: file }).locator('.file-state');
  // (Twice, in full runs, one of these rows was missing. Should it happen again, the
  // message lists every row there was.)
  const rows = async (e: Error) => {
    const all = await ann.page.locator('.transfer').allInnerTexts();
    throw new Error(`${e.message}\nthe rows: ${JSON.stringify(all)}\nwarnings: ${JSON.stringify(warnings)}`);
  };
  await expect(row('huge.bin')).toHaveText(/^Failed: refused/).catch(rows);
  await expect(row('more.bin')).toHaveText('Failed: Mallory sent more than the announced size').catch(rows);
  await expect(row('fewer.bin')).toHaveText(/^Failed: arrived with 500 bytes instead of 1000/).catch(rows);
  await expect(row('lies.bin')).toHaveText(/^Failed: arrived damaged/).catch(rows);
  for (const file of ['more.bin', 'fewer.bin', 'lies.bin', 'negative.bin', 'nosize.bin']) {
    await expect(ann.page.getByRole('link', { name: `Save ${file}` })).toHaveCount(0);
  }
  await expect(ann.page.getByRole('link', { name: 'Save invoice_fdp.exe' })).toHaveAttribute('download', 'invoice_fdp.exe');
  await expect(ann.page.getByRole('link', { name: 'Save .._.._.bashrc' })).toBeVisible();
  await expect(ann.page.getByRole('link', { name: 'Save file', exact: true })).toBeVisible();
  // (Waited for with a deadline: a row that never comes fails here, not at the test's timeout.)
  const longRow = ann.page.locator('.transfer .file-name', { hasText: 'nnnn' });
  await expect(longRow, `the long-named file is listed (notices: ${(await notice(ann).allTextContents()).join(" | ")})`).toHaveCount(1);
  const longName = await longRow.textContent();
  expect(new TextEncoder().encode(longName!).length).toBeLessThanOrEqual(255);
  const html = ann.page.getByRole('link', { name: 'Save page.html' });
  await expect(html).toHaveAttribute('download', 'page.html');
  await expect(html).toHaveAttribute('type', 'application/octet-stream');
  const [download] = await Promise.all([ann.page.waitForEvent('download'), html.click()]);
  expect(download.suggestedFilename()).toBe('page.html');
  expect(ann.page.url()).toContain(`/call/Ann/${room}`);
  expect(await ann.page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  // At most four of the ten never-finished files were taken in at once.
  expect(await ann.page.locator('.transfer', { hasText: /^stuck-/ }).count()).toBeLessThanOrEqual(4);
  // Honest Ben was never bothered.
  await expect(ben.status()).toHaveText('Connected with Ann and Mallory.');
  expect(panics).toEqual([]);

  const worst = record.reduce((a, b) => (b.muteMs > a.muteMs ? b : a));
  const flooded = record.find((r) => r.attack.startsWith('chat flood'))!;
  const heaviest = record.reduce((a, b) => (b.heapMB > a.heapMB ? b : a));
  console.log(
    `[measure] ${record.length} attacks: slowest Mute ${worst.muteMs.toFixed(0)} ms (${worst.attack}); ` +
      `largest JS heap ${heaviest.heapMB.toFixed(1)} MiB (${heaviest.attack}); ` +
      `during the 1,000 lines/s flood: Mute ${flooded.muteMs.toFixed(0)} ms, heap ${flooded.heapMB.toFixed(1)} MiB; ` +
      `slow events in Ann's page: ${slowAll.length ? slowAll.join('; ') : 'none'}`,
  );
});
