import { test, expect } from '@playwright/test';
import { type Person, expectFramesGrowing, expectRemoteVideoFlowing, peopleForEachTest, sharedServer, waitForHydration } from './support';

// Two seats: the third person here finds the room full.
const shared = sharedServer({ args: ['--room-capacity', '2'] });
const person = peopleForEachTest();
// Every test here talks to the one server of this file.
const server = { get url() { return shared().url; } };

/** Alice and Bob connected in a room of their own; the room's name comes back too, for a
 * third person to knock on. */
async function meet(): Promise<[Person, Person, string]> {
  const room = `e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const alice = await person();
  const bob = await person();
  await alice.joinThroughForm(server.url, 'Alice', room);
  await bob.joinThroughForm(server.url, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  return [alice, bob, room];
}

test('two people meet, and each sees and hears the other', async () => {
  const room = `e2e-${Date.now()}`;
  const alice = await person();
  const bob = await person();

  await alice.joinThroughForm(server.url, 'Alice', room);
  await expect(alice.status()).toHaveText('Waiting for someone to join.');
  // The local preview shows Alice's own camera, muted.
  const preview = alice.page.locator('.tile.local video');
  await expect.poll(() => preview.evaluate((v: HTMLVideoElement) => v.videoWidth)).toBeGreaterThan(0);
  expect(await preview.evaluate((v: HTMLVideoElement) => v.muted)).toBe(true);

  await bob.joinThroughForm(server.url, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectRemoteVideoFlowing(alice);
  await expectRemoteVideoFlowing(bob);
  // Sound comes with the video, and the remote video is not muted.
  expect(
    await alice.remoteVideo().evaluate((v: HTMLVideoElement) => ({
      audio: (v.srcObject as MediaStream).getAudioTracks().length,
      muted: v.muted,
    })),
  ).toEqual({ audio: 1, muted: false });
});

test('chat goes both ways as text, and an over-long message is held back with the reason', async () => {
  const [alice, bob] = await meet();
  await alice.page.getByLabel('Message').fill('hi <b>Bob</b>');
  await alice.page.getByRole('button', { name: 'Send', exact: true }).click();
  const bobLine = bob.page.locator('.chat-lines li').last();
  await expect(bobLine.locator('.who')).toHaveText('Alice');
  await expect(bobLine.locator('.text')).toHaveText('hi <b>Bob</b>');
  await expect(bob.page.locator('.chat-lines b')).toHaveCount(0);
  await bob.page.getByLabel('Message').fill('hello Alice');
  await bob.page.getByLabel('Message').press('Enter');
  const aliceLine = alice.page.locator('.chat-lines li').last();
  await expect(aliceLine.locator('.who')).toHaveText('Bob');
  await expect(aliceLine.locator('.text')).toHaveText('hello Alice');
  await expect(alice.page.getByLabel('Message')).toHaveValue('');

  await alice.page.getByLabel('Message').fill('x'.repeat(4001));
  await expect(alice.page.getByText('Messages can be at most 4000 characters.')).toBeVisible();
  await expect(alice.page.getByRole('button', { name: 'Send', exact: true })).toBeDisabled();
  await alice.page.getByLabel('Message').fill('short again');
  await alice.page.getByLabel('Message').press('Enter');
  await expect(bob.page.locator('.chat-lines li .text').last()).toHaveText('short again');
});

test('a third person finds the room full, with a way home, and the two do not notice', async () => {
  const [alice, bob, room] = await meet();
  const carol = await person();
  await carol.openLink(`${server.url}/call/Carol/${room}`);
  await expect(carol.page.getByRole('heading', { name: 'This room is full' })).toBeVisible();
  await expect(carol.status()).toHaveText('This room is full.');
  await carol.page.getByRole('link', { name: 'Home' }).click();
  await expect(carol.page.getByLabel('Your name')).toBeVisible();
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectFramesGrowing(alice);
});

test('a seat freed by hanging up is taken without a reload, and the one who left finds it full', async () => {
  const [alice, bob, room] = await meet();
  // Bob hangs up: Alice sees that he left and waits again, and her chat waits too.
  await bob.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(bob.page.getByRole('heading', { name: 'Call ended' })).toBeVisible();
  await expect(alice.status()).toHaveText('Bob left the call. Waiting for someone to join.');
  await expect(alice.page.getByRole('button', { name: 'Send', exact: true })).toBeDisabled();

  const carol = await person();
  await carol.joinThroughForm(server.url, 'Carol', room);
  await expect(alice.status()).toHaveText('Connected with Carol.');
  await expect(carol.status()).toHaveText('Connected with Alice.');
  await expectRemoteVideoFlowing(alice);

  await bob.page.getByRole('button', { name: 'Rejoin' }).click();
  await expect(bob.page.getByRole('heading', { name: 'This room is full' })).toBeVisible();
});

test('hang up and rejoin brings the call back', async () => {
  const room = `rejoin-${Date.now()}`;
  const alice = await person();
  const bob = await person();
  await alice.joinThroughForm(server.url, 'Alice', room);
  await bob.joinThroughForm(server.url, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');

  await alice.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(alice.status()).toHaveText('Call ended.');
  await expect(bob.status()).toHaveText('Alice left the call. Waiting for someone to join.');
  // Hanging up released the camera and microphone, and closed the signaling socket.
  expect(await alice.liveLocalTracks()).toBe(0);
  await expect.poll(() => alice.openSockets()).toBe(0);
  await alice.page.getByRole('button', { name: 'Rejoin' }).click();
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(bob);
  await expectRemoteVideoFlowing(alice);
});

test('leaving the call page turns the camera off and tells the other side', async () => {
  const room = `away-${Date.now()}`;
  const alice = await person();
  const bob = await person();
  await alice.joinThroughForm(server.url, 'Alice', room);
  await bob.joinThroughForm(server.url, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  expect(await bob.liveLocalTracks()).toBe(2);
  // Browser back: client-side navigation unmounts the call screen.
  await bob.page.goBack();
  await expect(bob.page.getByLabel('Your name')).toBeVisible();
  await expect.poll(() => bob.liveLocalTracks()).toBe(0);
  await expect.poll(() => bob.openSockets()).toBe(0);
  await expect(alice.status()).toHaveText('Bob left the call. Waiting for someone to join.');
});

test('without a camera or microphone the call goes ahead receive-only and says so', async () => {
  const room = `norx-${Date.now()}`;
  const alice = await person();
  const bob = await person({ fakeDevices: false });
  await alice.joinThroughForm(server.url, 'Alice', room);
  await bob.joinThroughForm(server.url, 'Bob', room);
  await expect(bob.page.getByRole('note')).toContainText('No camera or microphone');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(bob);
});

test('a person who refuses the camera still joins, and is told what happened', async () => {
  const room = `deny-${Date.now()}`;
  const alice = await person();
  const bob = await person({ allowMedia: false });
  await bob.joinThroughForm(server.url, 'Bob', room);
  await expect(bob.page.getByRole('note')).toContainText('access was denied');
  await expect(bob.status()).toHaveText('Waiting for someone to join.');
  await alice.joinThroughForm(server.url, 'Alice', room);
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectRemoteVideoFlowing(bob);
});

test('the receive-only person can also be the one who offers', async () => {
  const room = `norx2-${Date.now()}`;
  const bob = await person({ fakeDevices: false });
  const alice = await person();
  await bob.joinThroughForm(server.url, 'Bob', room);
  await expect(bob.page.getByRole('note')).toContainText('No camera or microphone');
  await alice.joinThroughForm(server.url, 'Alice', room);
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectRemoteVideoFlowing(bob);
});

test('the home form refuses bad input inline and makes fresh room keys', async () => {
  const p = await person();
  await p.page.goto(server.url + '/');
  await waitForHydration(p.page);
  const join = p.page.getByRole('button', { name: 'Join' });

  await join.click();
  await expect(p.page.getByText('Enter your name.')).toBeVisible();
  await expect(p.page.getByText('Enter a room, or press “New room”.')).toBeVisible();
  await expect(p.page).toHaveURL(server.url + '/');

  await p.page.getByLabel('Your name').fill('x'.repeat(33));
  await p.page.getByLabel('Room').fill('no spaces please');
  await join.click();
  await expect(p.page.getByText('Your name can be at most 32 characters.')).toBeVisible();
  await expect(p.page.getByText('The room may only contain letters, digits, “-” and “_”.')).toBeVisible();
  await expect(p.page.getByLabel('Room')).toHaveAttribute('aria-invalid', 'true');

  await p.page.getByLabel('Room').fill('r'.repeat(65));
  await join.click();
  await expect(p.page.getByText('The room can be at most 64 characters.')).toBeVisible();

  await p.page.getByRole('button', { name: 'New room' }).click();
  const first = await p.page.getByLabel('Room').inputValue();
  expect(first).toMatch(/^[0-9a-hjkmnp-tv-z]{12}$/);
  await p.page.getByRole('button', { name: 'New room' }).click();
  expect(await p.page.getByLabel('Room').inputValue()).not.toBe(first);

  // A name with spaces and accents survives the trip through the URL.
  await p.page.getByLabel('Your name').fill('Zoë Martin');
  await join.click();
  await expect(p.page).toHaveURL(/\/call\/Zo%C3%AB%20Martin\/[0-9a-z]{12}$/);
  await expect(p.page.getByText('You (Zoë Martin)')).toBeVisible();
  await expect(p.status()).toHaveText('Waiting for someone to join.');
});

test('a direct link renders on the server and hydrates', async () => {
  const p = await person();
  const response = await p.page.goto(`${server.url}/call/alice/room1`);
  // Opened from the address bar: the join card, rendered by the server.
  expect(await response!.text()).toContain('Join room room1');
  await waitForHydration(p.page);
  await p.page.getByRole('button', { name: 'Join now' }).click();
  await expect(p.status()).toHaveText('Waiting for someone to join.');
  await expect(p.page.getByRole('heading', { name: 'Room room1' })).toBeVisible();
  await p.page.goto(`${server.url}/call/alice/not%20valid`);
  await expect(p.page.getByRole('heading', { name: 'This call link is not valid' })).toBeVisible();
});

test('a call link asks for the camera while the app loads, and only once', async () => {
  const p = await person();
  await p.page.addInitScript(() => {
    const w = window as any;
    w.__mediaAsks = [];
    const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (c?: MediaStreamConstraints) => {
      w.__mediaAsks.push({ hydrated: document.documentElement.dataset.hydrated === 'true' });
      return ask(c);
    };
  });
  await p.page.goto(`${server.url}/call/early/early-room`);
  await waitForHydration(p.page);
  // The join card's preview shows the early request's camera.
  await expect
    .poll(() => p.page.getByLabel('Your camera preview').evaluate((v: HTMLVideoElement) => v.videoWidth))
    .toBeGreaterThan(0);
  await p.page.getByRole('button', { name: 'Join now' }).click();
  await expect(p.status()).toHaveText('Waiting for someone to join.');
  // Camera and microphone are live and in the preview.
  await expect.poll(() => p.liveLocalTracks()).toBe(2);
  expect(await p.page.locator('.tile.local video').evaluate((v: HTMLVideoElement) => v.srcObject !== null)).toBe(true);
  // Asked before the app had hydrated, and the app used that request instead of asking again.
  expect(await p.page.evaluate(() => (window as any).__mediaAsks)).toEqual([{ hydrated: false }]);

  // A link that is not valid starts no call, and must not turn the camera on.
  await p.page.goto(`${server.url}/call/early/not%20valid`);
  await expect(p.page.getByRole('heading', { name: 'This call link is not valid' })).toBeVisible();
  expect(await p.page.evaluate(() => (window as any).__mediaAsks)).toEqual([]);
  expect(await p.liveLocalTracks()).toBe(0);

  // Reached through the app's own navigation there is no early request: the app asks.
  await p.joinThroughForm(server.url, 'Later', 'later-room');
  await expect(p.status()).toHaveText('Waiting for someone to join.');
  expect(await p.page.evaluate(() => (window as any).__mediaAsks)).toEqual([{ hydrated: true }]);
  await expect.poll(() => p.liveLocalTracks()).toBe(2);
});
