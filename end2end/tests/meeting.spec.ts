import { test, expect, type TestInfo } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { type Person, connectedPair, peopleForEachTest, sharedServer } from './support';

// What a meeting leans on (issue 24): raised hands and reactions, seen by everyone.
const shared = sharedServer();
const person = peopleForEachTest();

async function join(name: string, room: string, colour: [number, number, number]): Promise<Person> {
  const p = await person({ colour });
  await p.openLink(`${shared().url}/call/${name}/${room}`);
  return p;
}

/** The names in `p`'s list of raised hands, in its order. */
const hands = (p: Person) => p.page.locator('.hands li .who');
/** A button of the call's toolbar. */
const control = (p: Person, name: string) =>
  p.page.getByRole('toolbar', { name: 'Call controls' }).getByRole('button', { name, exact: true });

async function screenshots(p: Person, testInfo: TestInfo, what: string): Promise<void> {
  for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    await p.page.setViewportSize(viewport);
    const shot = testInfo.outputPath(`${what}-${viewport.width}x${viewport.height}.png`);
    await p.page.screenshot({ path: shot });
    await testInfo.attach(`${what} at ${viewport.width}×${viewport.height}`, { path: shot, contentType: 'image/png' });
  }
  await p.page.setViewportSize({ width: 1280, height: 800 });
}

test('hands go up in order for everyone, a newcomer sees them, and the host can lower one', async ({}, testInfo) => {
  test.setTimeout(180_000);
  const room = `hands-${Date.now()}`;
  const alice = await join('Alice', room, [220, 40, 40]);
  const bob = await join('Bob', room, [40, 200, 60]);
  const carol = await join('Carol', room, [40, 70, 220]);
  await expect(alice.status()).toHaveText('Connected with Bob and Carol.', { timeout: 45_000 });
  await expect(carol.status()).toHaveText('Connected with Alice and Bob.', { timeout: 45_000 });

  // Bob raises his hand with the button, then Carol with the H key.
  await control(bob, 'Raise hand').click();
  await expect(control(bob, 'Lower hand')).toHaveAttribute('aria-pressed', 'true');
  await expect(hands(alice)).toHaveText(['Bob']);
  // Carol sees Bob's hand before she raises hers: hers comes after his on every page, a
  // newcomer's too, however late either message reaches it.
  await expect(hands(carol)).toHaveText(['Bob']);
  await carol.page.keyboard.press('h');
  await expect(hands(alice)).toHaveText(['Bob', 'Carol']);
  await expect(hands(bob)).toHaveText(['Bob (you)', 'Carol']);
  await expect(hands(carol)).toHaveText(['Bob', 'Carol (you)']);
  // Each tile says it too, with its place in the order.
  await expect(alice.page.getByRole('img', { name: 'Hand raised (1)' })).toHaveCount(1);
  await expect(alice.page.locator('.tile:has(video[aria-label="Video from Carol"]) .hand-badge')).toHaveAttribute('aria-label', 'Hand raised (2)');

  // Dave arrives later and sees both hands, Bob's first.
  const dave = await join('Dave', room, [230, 220, 40]);
  await expect(dave.status()).toHaveText('Connected with Alice, Bob and Carol.', { timeout: 45_000 });
  await expect(hands(dave)).toHaveText(['Bob', 'Carol']);

  // A reaction from Carol floats over her tile at Alice's and Bob's, and is said with her
  // name to screen readers.
  await control(carol, 'React').click();
  await carol.page.getByRole('group', { name: 'Reactions' }).getByRole('button', { name: 'Applause' }).click();
  for (const p of [alice, bob]) {
    await expect(p.page.locator('.tile:has(video[aria-label="Video from Carol"]) .reaction')).toHaveText('👏');
    await expect(p.page.locator('[aria-live]', { hasText: 'Carol: Applause' })).toHaveCount(1);
  }
  await expect(carol.page.locator('.tile.local .reaction')).toHaveText('👏');
  await screenshots(alice, testInfo, 'hands-and-a-reaction');
  // …and is gone after about three seconds.
  await expect(alice.page.locator('.tile .reaction')).toHaveCount(0, { timeout: 6_000 });

  // Bob lowers his own hand.
  await control(bob, 'Lower hand').click();
  await expect(hands(alice)).toHaveText(['Carol']);
  await expect(hands(dave)).toHaveText(['Carol']);
  await expect(control(bob, 'Raise hand')).toHaveAttribute('aria-pressed', 'false');

  // Only the host (Alice, first in the room) has a button to lower someone else's hand;
  // Carol's page says who lowered it.
  await expect(bob.page.getByRole('button', { name: "Lower Carol's hand" })).toHaveCount(0);
  await alice.page.getByRole('button', { name: "Lower Carol's hand" }).click();
  await expect(carol.page.locator('.notes [role=alert]')).toHaveText('Alice lowered your hand.');
  for (const p of [alice, bob, carol, dave]) await expect(hands(p)).toHaveCount(0);
  await expect(control(carol, 'Raise hand')).toHaveAttribute('aria-pressed', 'false');
});

test('turning noise suppression off changes what the microphone applies, with no renegotiation', async () => {
  const [alice] = await connectedPair(shared().url, person);
  const noise = alice.page.getByRole('switch', { name: 'Noise suppression' });
  await expect(noise).toBeChecked({ timeout: 15_000 });
  await expect(alice.page.getByRole('switch', { name: 'Echo cancellation' })).toBeChecked();
  await expect(alice.page.getByRole('switch', { name: 'Automatic gain' })).toBeChecked();
  /** What the track on the wire to Bob applies, and the descriptions negotiated. */
  const onTheWire = () => alice.page.evaluate(() => {
    const pc = (window as any).__pcs.at(-1) as RTCPeerConnection;
    const sender = pc.getSenders().find((s) => s.track?.kind === 'audio')!;
    return {
      noiseSuppression: sender.track!.getSettings().noiseSuppression,
      echoCancellation: sender.track!.getSettings().echoCancellation,
      sdp: pc.currentLocalDescription?.sdp,
    };
  });
  const before = await onTheWire();
  expect(before.noiseSuppression).toBe(true);
  await noise.uncheck();
  await expect.poll(async () => (await onTheWire()).noiseSuppression).toBe(false);
  const after = await onTheWire();
  expect(after.echoCancellation).toBe(true);
  expect(after.sdp, 'no renegotiation').toBe(before.sdp);
  // The stats panel says what the browser applies.
  await alice.page.getByRole('button', { name: 'Stats' }).click();
  await expect(alice.page.locator('.stats .sound')).toHaveText('Noise suppression off, echo cancellation on, automatic gain on');
  await noise.check();
  await expect.poll(async () => (await onTheWire()).noiseSuppression).toBe(true);
  await expect(alice.page.locator('.stats .sound')).toHaveText(/^Noise suppression on/);
});

test('talking while muted shows "You are muted" by the Mute button, and a beep does not', async () => {
  const [alice, bob] = await connectedPair(shared().url, person, { alice: { talking: true } });
  const hint = (p: Person) => p.page.locator('.muted-hint', { hasText: 'You are muted' });
  // Not while the microphone is on, however much Alice talks.
  await alice.page.waitForTimeout(1_500);
  await expect(hint(alice)).toHaveCount(0);
  await control(alice, 'Mute').click();
  await expect(hint(alice)).toBeVisible({ timeout: 5_000 });
  await control(alice, 'Mute').click();
  await expect(hint(alice)).toHaveCount(0);
  // Bob's fake microphone beeps twice a second: never "talking".
  await control(bob, 'Mute').click();
  await bob.page.waitForTimeout(3_000);
  await expect(hint(bob)).toHaveCount(0);
});

/** What ffprobe says of a file: its streams' kinds, the length its container states (NaN
 * if none: MediaRecorder's own WebM states none, Tandem writes it in), and the time of its
 * last packet, sound or picture. */
function probe(file: string): { kinds: string[]; seconds: number; lastPacket: number } {
  const run = (...args: string[]) => execFileSync('ffprobe', ['-v', 'error', ...args, file], { encoding: 'utf8' });
  const kinds = run('-show_entries', 'stream=codec_type', '-of', 'csv=p=0').trim().split('\n');
  const seconds = Number(run('-show_entries', 'format=duration', '-of', 'csv=p=0').trim());
  const packets = run('-show_entries', 'packet=pts_time', '-of', 'csv=p=0')
    .trim().split('\n').map((line) => parseFloat(line)).filter((t) => !Number.isNaN(t));
  return { kinds, seconds, lastPacket: Math.max(...packets) };
}

test('a recording is told to everyone, follows who comes and what they switch, and saves a WebM', async ({}, testInfo) => {
  test.setTimeout(180_000);
  const room = `record-${Date.now()}`;
  const alice = await join('Alice', room, [220, 40, 40]);
  const bob = await person({ cameras: 2 });
  await bob.openLink(`${shared().url}/call/Bob/${room}`);
  const carol = await join('Carol', room, [40, 70, 220]);
  await expect(alice.status()).toHaveText('Connected with Bob and Carol.', { timeout: 45_000 });
  await expect(carol.status()).toHaveText('Connected with Alice and Bob.', { timeout: 45_000 });
  const note = (p: Person) => p.page.locator('.recording-note');

  await control(alice, 'Record').click();
  const started = Date.now();
  await expect(note(alice)).toContainText('You are recording');
  for (const p of [bob, carol]) await expect(note(p)).toContainText('Alice is recording', { timeout: 1_000 });
  testInfo.annotations.push({ type: 'measure', description: `Record → "Alice is recording" at Bob and Carol: ${Date.now() - started} ms` });
  await expect(alice.page.locator('.recording-time')).toHaveText(/^● 0:0[1-9] · /, { timeout: 5_000 });
  await screenshots(bob, testInfo, 'recording-notice');

  // Dave arrives while Alice records, and is told at once; Bob switches camera.
  const dave = await join('Dave', room, [230, 220, 40]);
  await expect(dave.status()).toHaveText('Connected with Alice, Bob and Carol.', { timeout: 45_000 });
  await expect(note(dave)).toContainText('Alice is recording');
  await bob.page.getByLabel('Camera').selectOption({ label: 'fake_device_1' });
  await expect.poll(() => Date.now() - started).toBeGreaterThan(5_500);

  await control(alice, 'Stop recording').click();
  for (const p of [alice, bob, carol, dave]) await expect(note(p)).toHaveText('');
  const link = alice.page.getByRole('link', { name: /^Save tandem-record-\d+-.*\.webm$/ });
  const [download] = await Promise.all([alice.page.waitForEvent('download'), link.click()]);
  const file = testInfo.outputPath('recording.webm');
  await download.saveAs(file);
  const { kinds, seconds, lastPacket } = probe(file);
  expect(kinds.sort()).toEqual(['audio', 'video']);
  expect(seconds).toBeGreaterThanOrEqual(4);
  // The stated length is the media's: a player shows it and can seek.
  expect(Math.abs(seconds - lastPacket)).toBeLessThan(1);
  testInfo.annotations.push({ type: 'measure', description: `recording: ${seconds.toFixed(1)} s, ${kinds.join(' + ')}` });
});

test('Pop out shows the other person in a window over the others, with Mute and Hang up, else a video picture-in-picture', async () => {
  const [alice] = await connectedPair(shared().url, person);
  const small = () => alice.page.evaluate(() => {
    const window = (globalThis as any).documentPictureInPicture?.window as Window | null;
    const video = window?.document.querySelector('video') as HTMLVideoElement | null;
    return window ? { who: window.document.querySelector('.who')?.textContent, width: video?.videoWidth ?? 0 } : null;
  });
  await control(alice, 'Pop out').click();
  await expect.poll(small).toEqual({ who: 'Bob', width: expect.any(Number) });
  await expect.poll(async () => (await small())?.width ?? 0).toBeGreaterThan(0);
  // Mute in the small window mutes the call.
  await alice.page.evaluate(() => ((globalThis as any).documentPictureInPicture.window.document.querySelector('button.mute') as HTMLButtonElement).click());
  await expect(control(alice, 'Mute')).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(() => alice.page.evaluate(() => (globalThis as any).documentPictureInPicture.window.document.querySelector('button.mute').getAttribute('aria-pressed'))).toBe('true');
  await alice.page.evaluate(() => (globalThis as any).documentPictureInPicture.window.close());

  // A browser without Document Picture-in-Picture gets the video one.
  await alice.page.evaluate(() => Object.defineProperty(window, 'documentPictureInPicture', { value: undefined, configurable: true }));
  await control(alice, 'Pop out').click();
  await expect.poll(() => alice.page.evaluate(() => document.pictureInPictureElement?.className ?? null)).toBe('pop-out-video');
  await expect.poll(() => alice.page.evaluate(() => (document.pictureInPictureElement as HTMLVideoElement).videoWidth)).toBeGreaterThan(0);
});
