import { test, expect } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FirefoxPerson, expectColour, until } from './firefox';
import { Server, expectFramesGrowing, expectRemoteVideoFlowing, framesOf, freePort, metric, ofType, peopleForEachTest, seats, type Person, type Rgb } from './support';

// Calls between Chromium (Playwright) and Firefox (firefox-esr through puppeteer-core):
// the browsers people use, in one call. Firefox's fake camera draws a changing picture
// of its own; the Chromium people send solid colours, checked by pixel on Firefox's side.
const person = peopleForEachTest();
const foxes: FirefoxPerson[] = [];
const servers: Server[] = [];
test.afterEach(async () => {
  const gone = foxes.splice(0);
  await Promise.all(gone.map((f) => f.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  expect(gone.flatMap((f) => f.panics), 'the app panicked in Firefox').toEqual([]);
});

async function firefox(): Promise<FirefoxPerson> {
  const fox = await FirefoxPerson.launch();
  foxes.push(fox);
  return fox;
}

async function server(args: string[] = []): Promise<Server> {
  const s = await Server.start({ args });
  servers.push(s);
  return s;
}

const room = () => `fox-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const BLUE: Rgb = [40, 90, 220];
const ORANGE: Rgb = [230, 140, 30];

/** Alice in Chromium (sending blue) and Bob in Firefox, in a fresh room, connected. */
async function mixedPair(s: Server): Promise<[Person, FirefoxPerson]> {
  const r = room();
  const alice = await person({ colour: BLUE });
  const bob = await firefox();
  await alice.joinThroughForm(s.url, 'Alice', r);
  await bob.joinThroughForm(s.url, 'Bob', r);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await bob.expectText('[role=status]', 'Connected with Alice.');
  return [alice, bob];
}

test('Chromium and Firefox: video both ways, chat both ways, mute shown, a file intact, stats with numbers', async () => {
  const s = await server();
  const [alice, bob] = await mixedPair(s);

  // Video: Firefox's picture reaches Chromium and plays on; Chromium's blue reaches Firefox.
  await expectRemoteVideoFlowing(alice);
  await expectFramesGrowing(alice);
  await bob.expectRemoteVideosFlowing(1);
  await until('Alice\'s blue on Bob\'s screen', () => bob.remoteColour(), (c) => Math.abs(c[2] - BLUE[2]) < 40);
  expectColour(await bob.remoteColour(), BLUE, 40);

  // Chat both ways.
  await alice.page.getByLabel('Message').fill('hello from Chromium');
  await alice.page.getByLabel('Message').press('Enter');
  await until('Bob reads Alice', () => bob.lastChat(), (t) => t === 'hello from Chromium');
  await bob.sendChat('hello from Firefox');
  await expect(alice.page.locator('.chat-lines li .text').last()).toHaveText('hello from Firefox');

  // Bob mutes in Firefox; Alice sees it, and sees it end.
  await bob.click('.controls button[aria-keyshortcuts="M"]');
  await expect(alice.page.getByText('Bob muted')).toBeVisible();
  await bob.click('.controls button[aria-keyshortcuts="M"]');
  await expect(alice.page.getByText('Bob muted')).toBeHidden();

  // A file from Chromium arrives in Firefox intact (the app checks its SHA-256), and one
  // from Firefox arrives in Chromium with the same bytes.
  const data = randomBytes(300 * 1024);
  await alice.page.getByLabel('Send a file').setInputFiles({ name: 'to-fox.bin', mimeType: 'application/octet-stream', buffer: data });
  await bob.expectText('.transfers', /Received intact/, 30_000);
  const back = randomBytes(200 * 1024);
  const file = path.join(tmpdir(), `from-fox-${Date.now()}.bin`);
  await writeFile(file, back);
  const input = (await bob.page.$('input#file-pick')) as import('puppeteer-core').ElementHandle<HTMLInputElement> | null;
  await input!.uploadFile(file);
  const save = alice.page.getByRole('link', { name: `Save ${path.basename(file)}` });
  await expect(save).toBeVisible({ timeout: 30_000 });
  const [download] = await Promise.all([alice.page.waitForEvent('download'), save.click()]);
  const bytes = await readFile(await download.path());
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  expect(sha(bytes)).toBe(sha(back));

  // Firefox's stats panel shows figures, never NaN.
  await bob.page.locator('.controls button::-p-text(Stats)').click();
  const panel = '[aria-label="Call statistics"]';
  await until('Firefox\'s receive bitrate', () => bob.page.evaluate(() => {
    const receiving = [...document.querySelectorAll('[aria-label="Call statistics"] dt')]
      .find((dt) => dt.textContent?.includes('Receiving'));
    return Number(receiving?.nextElementSibling?.getAttribute('data-kbps') ?? 0);
  }), (kbps) => kbps > 0);
  const figures = await bob.text(panel);
  expect(figures).not.toContain('NaN');
  expect(figures).toMatch(/\d+ ms/);
});

test('a group of two Chromium people and one Firefox person all see each other', async () => {
  const s = await server();
  const r = room();
  const ann = await person({ colour: BLUE });
  const ben = await person({ colour: ORANGE });
  const fox = await firefox();
  await ann.joinThroughForm(s.url, 'Ann', r);
  await ben.joinThroughForm(s.url, 'Ben', r);
  await fox.joinThroughForm(s.url, 'Fox', r);
  await expect(ann.status()).toHaveText('Connected with Ben and Fox.');
  await expect(ben.status()).toHaveText('Connected with Ann and Fox.');
  await fox.expectText('[role=status]', 'Connected with Ann and Ben.');
  await fox.expectRemoteVideosFlowing(2);
  for (const p of [ann, ben]) {
    await expect(p.remoteVideo()).toHaveCount(2);
    await expectFramesGrowing(p);
  }
});

test('an ICE restart started on the Firefox side keeps the call and its video', async () => {
  const s = await server();
  const [alice, bob] = await mixedPair(s);
  const ufrag = () => bob.pc<string | undefined>('(pc) => /a=ice-ufrag:(\\S+)/.exec(pc.localDescription?.sdp ?? "")?.[1]');
  const before = await ufrag();
  expect(before).toBeTruthy();
  // Firefox has no navigator.connection: the window's online event is its network change.
  await bob.page.evaluate(() => window.dispatchEvent(new Event('online')));
  await until('a new ufrag on Firefox\'s side', ufrag, (u) => !!u && u !== before, 10_000);
  await bob.expectText('[role=status]', 'Connected with Alice.');
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectFramesGrowing(alice);
  await bob.expectRemoteVideosFlowing(1);
});

test('a relay-only call through the built-in relay, with Firefox on one side', async () => {
  const port = await freePort();
  const s = await server([
    '--turn-listen', `127.0.0.1:${port}`, '--turn-allow-private-peers',
    '--turn-relay-ports', '48000-48999', '--ice-transport-policy', 'relay',
  ]);
  const [alice, bob] = await mixedPair(s);
  expect(await alice.selectedPath()).toEqual({ local: 'relay', remote: 'relay' });
  const firefoxPath = await bob.pc<{ local?: string; remote?: string }>(`async (pc) => {
    const stats = await pc.getStats();
    let pair;
    stats.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
    // A remote candidate met in a check before its description came is prflx: the same
    // address signaled says what it is.
    let remote = pair && stats.get(pair.remoteCandidateId);
    if (remote && remote.candidateType === 'prflx') {
      stats.forEach((r) => { if (r.type === 'remote-candidate' && r.candidateType !== 'prflx' && r.address === remote.address && r.port === remote.port) remote = r; });
    }
    return { local: pair && stats.get(pair.localCandidateId)?.candidateType, remote: remote?.candidateType };
  }`);
  expect(firefoxPath).toEqual({ local: 'relay', remote: 'relay' });
  await expectFramesGrowing(alice);
  await bob.expectRemoteVideosFlowing(1);
});

test('with Firefox in the call: hands, a reaction and a recording both ways, and Firefox offers its recording', async () => {
  const s = await server();
  const [alice, bob] = await mixedPair(s);
  const hands = (fox: FirefoxPerson) => fox.page.$$eval('.hands li .who', (names) => names.map((n) => n.textContent));

  // Bob (Firefox) raises his hand with H, then Alice (Chromium) hers: both see Bob first.
  await bob.page.keyboard.press('h');
  await expect(alice.page.locator('.hands li .who')).toHaveText(['Bob']);
  await alice.page.keyboard.press('h');
  await expect(alice.page.locator('.hands li .who')).toHaveText(['Bob', 'Alice (you)']);
  await until('hands at Bob', () => hands(bob), (names) => names.join('|') === 'Bob (you)|Alice');

  // A reaction from Firefox floats over Bob's tile at Alice's; one from Chromium at Bob's.
  await bob.click('.react > button');
  await bob.click('button[aria-label=Applause]');
  await expect(alice.page.locator('.tile:has(video[aria-label="Video from Bob"]) .reaction')).toHaveText('👏');
  await alice.page.getByRole('toolbar', { name: 'Call controls' }).getByRole('button', { name: 'React' }).click();
  await alice.page.getByRole('group', { name: 'Reactions' }).getByRole('button', { name: 'Love' }).click();
  await bob.expectText('.tile.remote .reaction', '❤️');

  // Bob records in Firefox: Alice is told; stopped, his page offers the file. (Its length
  // is not written in: Firefox's WebM carries an index that a longer head would move;
  // docs/browsers.md.)
  await bob.click('button[title^="Record the call"]');
  await expect(alice.page.locator('.recording-note')).toContainText('Bob is recording');
  await bob.page.waitForFunction(() => /0:0[3-9]/.test(document.querySelector('.recording-time')?.textContent ?? ''), { timeout: 15_000 });
  await bob.click('.recording-controls button.danger');
  await expect(alice.page.locator('.recording-note')).toHaveText('');
  await bob.expectText('.recordings li', /^Recording ready: Save tandem-fox-[\w-]+\.webm \((\d+\.\d (KiB|MiB))\)$/);
});

test('Firefox: Join pressed on the home page before the app, the call page takes the seat, and the app takes that socket over', async () => {
  const s = await server();
  const r = room();
  const alice = await person({ colour: BLUE });
  const aliceFrames = framesOf(alice.page);
  await alice.joinThroughForm(s.url, 'Alice', r);
  await expect(alice.status()).toHaveText('Waiting for someone to join.');
  const joinsBefore = await metric(s, 'tandem_joins_total');

  const bob = await firefox();
  const release = await bob.holdTheApp();
  await bob.page.goto(`${s.url}/`, { waitUntil: 'domcontentloaded' });
  await bob.page.locator('#name').fill('Bob');
  await bob.page.locator('#room').fill(r);
  await bob.page.locator('button[type=submit]').click();
  // The form went as it is; the call page's script joined while the wasm is held back.
  await bob.page.waitForFunction((p: string) => location.pathname === p, { timeout: 15_000 }, `/call/Bob/${r}`);
  await expect.poll(() => ofType(aliceFrames.received, 'peer_joined').length).toBe(1);
  expect(await seats(s)).toBe(2);
  expect(await bob.page.evaluate(() => document.documentElement.hasAttribute('data-hydrated'))).toBe(false);

  release();
  await bob.expectText('[role=status]', 'Connected with Alice.', 30_000);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(alice);
  await bob.expectRemoteVideosFlowing(1);
  // One join for Bob in all (his app did not join again), one seat, seen arriving once.
  expect(await metric(s, 'tandem_joins_total')).toBe(joinsBefore + 1);
  expect(await seats(s)).toBe(2);
  expect(ofType(aliceFrames.received, 'peer_joined')).toHaveLength(1);
  expect(ofType(aliceFrames.received, 'peer_left')).toHaveLength(0);
});

test('Firefox: a reload in the call goes back into it on the same seat, as in Chromium', async () => {
  const s = await server();
  const [alice, bob] = await mixedPair(s);
  const aliceFrames = framesOf(alice.page);
  const joinsBefore = await metric(s, 'tandem_joins_total');
  // Firefox says a reload came from nowhere (Sec-Fetch-Site: none): the server puts up the
  // join card, and the app, seeing this tab's seat kept, takes the call back at once.
  await bob.page.reload();
  await bob.expectText('[role=status]', 'Connected with Alice.', 30_000);
  expect(await bob.page.$('#join-card')).toBeNull();
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await bob.expectRemoteVideosFlowing(1);
  await expectRemoteVideoFlowing(alice);
  // Resumed, not joined anew: no second join, Bob never left Alice's call.
  expect(await metric(s, 'tandem_joins_total')).toBe(joinsBefore);
  expect(ofType(aliceFrames.received, 'peer_left')).toHaveLength(0);
  expect(await seats(s)).toBe(2);
});
