import { test, expect } from '@playwright/test';
import { Person, connectedPair, expectRemoteVideoFlowing, peopleForEachTest, sharedServer } from './support';

const server = sharedServer();
const person = peopleForEachTest();

async function call(opts = {}): Promise<[Person, Person]> {
  const pair = await connectedPair(server().url, person, opts);
  await expectRemoteVideoFlowing(pair[1]);
  return pair;
}

const senderTrack = (p: Person, kind: string) =>
  p.pc((pc) =>
    pc.getSenders().map((s) => s.track && { kind: s.track.kind, enabled: s.track.enabled, label: s.track.label }),
  ).then((tracks) => tracks.find((t) => t?.kind === kind));

test('mute: the other side is told, and the outgoing audio is really off', async () => {
  const [alice, bob] = await call();
  const mute = alice.page.getByRole('button', { name: 'Mute', exact: true });
  await expect(mute).toHaveAttribute('aria-pressed', 'false');
  await mute.click();
  await expect(mute).toHaveAttribute('aria-pressed', 'true');
  await expect(bob.page.getByText('Alice muted')).toBeVisible({ timeout: 1_000 });
  expect((await senderTrack(alice, 'audio'))?.enabled).toBe(false);
  // The keyboard shortcut toggles it back; typing an "m" in the chat does not.
  await alice.page.getByLabel('Message').fill('mmm');
  await expect(mute).toHaveAttribute('aria-pressed', 'true');
  await alice.page.locator('body').click({ position: { x: 5, y: 5 } });
  await alice.page.keyboard.press('m');
  await expect(mute).toHaveAttribute('aria-pressed', 'false');
  await expect(bob.page.getByText('Alice muted')).toBeHidden();
  expect((await senderTrack(alice, 'audio'))?.enabled).toBe(true);
});

test('camera off: the other side sees a placeholder with the name', async () => {
  const [alice, bob] = await call();
  await alice.page.getByRole('button', { name: 'Camera off' }).click();
  const remote = bob.page.locator('.tile.remote');
  await expect(remote.getByLabel('Alice (camera off)')).toBeVisible({ timeout: 1_000 });
  await expect(remote.locator('.avatar')).toHaveText('A');
  expect((await senderTrack(alice, 'video'))?.enabled).toBe(false);
  await alice.page.locator('body').click({ position: { x: 5, y: 5 } });
  await alice.page.keyboard.press('v');
  await expect(remote.getByLabel('Alice (camera off)')).toBeHidden();
  await expectRemoteVideoFlowing(bob);
});

test('screen share replaces the camera for the other side, and stops back to it', async () => {
  const [alice, bob] = await call();
  const size = () => bob.remoteVideo().evaluate((v: HTMLVideoElement) => `${v.videoWidth}x${v.videoHeight}`);
  const cameraSize = await size();
  await alice.page.getByRole('button', { name: 'Share screen' }).click();
  // Chromium's synthetic screen is 1280x720.
  await expect.poll(size, { timeout: 15_000 }).toBe('1280x720');
  await expect(alice.page.getByRole('button', { name: 'Stop sharing' })).toHaveAttribute('aria-pressed', 'true');
  // The local preview shows what is shared.
  await expect
    .poll(() => alice.page.locator('.tile.local video').evaluate((v: HTMLVideoElement) => v.videoWidth))
    .toBe(1280);
  await alice.page.getByRole('button', { name: 'Stop sharing' }).click();
  await expect.poll(size, { timeout: 15_000 }).toBe(cameraSize);
  await expect(alice.page.getByRole('button', { name: 'Share screen' })).toHaveAttribute('aria-pressed', 'false');
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(bob);
});

test('someone joining while a screen is shared sees the screen, and the camera once sharing stops', async () => {
  const [alice, bob] = await call();
  await alice.page.getByRole('button', { name: 'Share screen' }).click();
  const size = (p: Person) => () =>
    p.page.getByLabel('Video from Alice').evaluate((v: HTMLVideoElement) => `${v.videoWidth}x${v.videoHeight}`);
  await expect.poll(size(bob), { timeout: 15_000 }).toBe('1280x720');
  const carol = await person();
  const room = new URL(alice.page.url()).pathname.split('/').pop()!;
  await carol.joinThroughForm(server().url, 'Carol', room);
  await expect(carol.status()).toHaveText('Connected with Alice and Bob.');
  // Chromium's synthetic screen is 1280x720; its camera is not.
  await expect.poll(size(carol), { timeout: 15_000 }).toBe('1280x720');
  await alice.page.getByRole('button', { name: 'Stop sharing' }).click();
  await expect.poll(size(carol), { timeout: 15_000 }).not.toBe('1280x720');
  await expect.poll(size(carol)).not.toBe('0x0');
});

test('stopping the share from the browser itself returns to the camera', async () => {
  const [alice, bob] = await call();
  const size = () => bob.remoteVideo().evaluate((v: HTMLVideoElement) => v.videoWidth);
  await alice.page.getByRole('button', { name: 'Share screen' }).click();
  await expect.poll(size, { timeout: 15_000 }).toBe(1280);
  // What the browser's "Stop sharing" bar does: end the track.
  await alice.pc((pc) => {
    const track = pc.getSenders().find((s) => s.track?.kind === 'video')!.track!;
    track.stop();
    track.dispatchEvent(new Event('ended'));
  });
  await expect(alice.page.getByRole('button', { name: 'Share screen' })).toBeVisible();
  await expect.poll(size, { timeout: 15_000 }).toBe(640);
});

test('refused screen sharing is explained, and the call carries on', async () => {
  const [alice, bob] = await call();
  // Alice presses "Cancel" in the browser's screen picker.
  await alice.page.evaluate(() => {
    navigator.mediaDevices.getDisplayMedia = () =>
      Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  });
  await alice.page.getByRole('button', { name: 'Share screen' }).click();
  await expect(alice.page.getByRole('alert').filter({ hasText: 'Screen sharing did not start' })).toBeVisible();
  await expect(alice.page.getByRole('button', { name: 'Share screen' })).toHaveAttribute('aria-pressed', 'false');
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(bob);
});

test('stats: live figures with a non-zero receive bitrate, and the path in use', async () => {
  const [alice] = await call();
  const toggle = alice.page.getByRole('button', { name: 'Stats' });
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  const panel = alice.page.getByRole('region', { name: 'Call statistics' });
  const receiving = panel.locator('dt:has-text("Receiving") + dd');
  await expect
    .poll(async () => Number(await receiving.getAttribute('data-kbps')), { timeout: 3_000 })
    .toBeGreaterThan(0);
  await expect(receiving).toHaveText(/\d+(\.\d+)? (kbit|Mbit)\/s/);
  await expect(panel.locator('dt:has-text("Path") + dd')).toHaveText('direct (host, UDP)');
  await expect(panel.locator('dt:has-text("Video") + dd')).toHaveText(/^\d+×\d+/);
  await expect(panel.locator('dt:has-text("Round trip") + dd')).toHaveText(/^\d+ ms$/);
  // The sparklines grow a point a second.
  const points = () => panel.locator('polyline.bitrate').getAttribute('points').then((p) => (p ?? '').split(' ').filter(Boolean).length);
  const before = await points();
  await expect.poll(points, { timeout: 5_000 }).toBeGreaterThan(before);
  await toggle.click();
  await expect(panel).toBeHidden();
});

test('invite: the link is copied, and opening it fills in the room', async () => {
  const room = `invite-${Date.now()}`;
  const alice = await person();
  const guest = await person();
  await alice.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server().url });
  await alice.joinThroughForm(server().url, 'Alice', room);
  await alice.page.getByRole('button', { name: 'Copy invite link' }).click();
  await expect(alice.page.getByText('Invite link copied')).toBeVisible();
  const link = await alice.page.evaluate(() => navigator.clipboard.readText());
  expect(link).toBe(`${server().url}/?room=${room}`);
  await guest.page.goto(link);
  await expect(guest.page.getByLabel('Room')).toHaveValue(room);
  await guest.page.getByLabel('Your name').fill('Guest');
  await guest.page.getByRole('button', { name: 'Join' }).click();
  // (Twice seen in full runs: the guest's page never left the form. The app, arriving
  // between fill and click, had wiped the name; home.spec has that case held still.)
  await expect(alice.status()).toHaveText('Connected with Guest.').catch(async (e) => {
    const said = await guest.statusHistory().catch(() => '?');
    throw new Error(`${e.message}\nthe guest's page: ${guest.page.url()}, status history: ${JSON.stringify(said)}`);
  });
});

test('invite: where the clipboard is refused, the link is shown selected', async () => {
  const alice = await person();
  await alice.page.addInitScript(() => {
    navigator.clipboard.writeText = () => Promise.reject(new DOMException('no', 'NotAllowedError'));
  });
  await alice.joinThroughForm(server().url, 'Alice', `refused-${Date.now()}`);
  await alice.page.getByRole('button', { name: 'Copy invite link' }).click();
  const field = alice.page.getByLabel('Invite link (copy it with Ctrl+C)');
  await expect(field).toHaveValue(/\/\?room=refused-\d+$/);
  await expect(field).toBeFocused();
  expect(
    await field.evaluate((i: HTMLInputElement) => i.selectionStart === 0 && i.selectionEnd === i.value.length),
  ).toBe(true);
});

test('devices: switching camera and microphone mid-call keeps the call', async () => {
  const [alice, bob] = await call({ alice: { cameras: 2 } });
  const camera = alice.page.getByLabel('Camera');
  const microphone = alice.page.getByLabel('Microphone');
  await expect(camera.locator('option')).toHaveText(['fake_device_0', 'fake_device_1']);
  await expect(microphone.locator('option')).toContainText(['Fake Audio Input 1']);

  await camera.selectOption({ label: 'fake_device_1' });
  await expect.poll(async () => (await senderTrack(alice, 'video'))?.label).toBe('fake_device_1');
  await microphone.selectOption({ label: 'Fake Audio Input 1' });
  await expect.poll(async () => (await senderTrack(alice, 'audio'))?.label).toBe('Fake Audio Input 1');
  await expect(camera).toHaveValue(await camera.locator('option', { hasText: 'fake_device_1' }).getAttribute('value') ?? '');
  // Same call, still flowing: no renegotiation, no new connection.
  expect(await alice.page.evaluate(() => (window as any).__pcs.length)).toBe(1);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(bob);
  // The old camera is released.
  await expect.poll(() => alice.liveLocalTracks()).toBe(2);
});

test('devices: a camera plugged in mid-call appears in the list', async () => {
  const [alice] = await call();
  await expect(alice.page.getByLabel('Camera').locator('option')).toHaveText(['fake_device_0']);
  // What the browser reports once a USB camera is plugged in.
  await alice.page.evaluate(() => {
    const md = navigator.mediaDevices;
    const list = md.enumerateDevices.bind(md);
    md.enumerateDevices = async () => [
      ...(await list()),
      { kind: 'videoinput', label: 'USB Camera', deviceId: 'usb-camera', groupId: 'usb', toJSON() {} } as MediaDeviceInfo,
    ];
    md.dispatchEvent(new Event('devicechange'));
  });
  await expect(alice.page.getByLabel('Camera').locator('option')).toHaveText(['fake_device_0', 'USB Camera']);
  await expect(alice.status()).toHaveText('Connected with Bob.');
});
