import { test, expect } from '@playwright/test';
import {
  type Person,
  expectRemoteVideoFlowing,
  framesOf,
  holdTheApp,
  ofType,
  peopleForEachTest,
  seats,
  sharedServer,
  waitForHydration,
} from './support';

// Issue 25: a call page takes its seat while its app is still on the way. The page's
// script opens the signaling socket and sends `join`; the app adopts that socket, hears
// what the server said meanwhile, in order, and does not join again. A page whose app
// never comes gives its seat back.
const server = sharedServer();
const person = peopleForEachTest();

/** `p` presses Join on the home page before its app has loaded: the form goes natively. */
async function joinBeforeTheApp(p: Person, name: string, room: string): Promise<() => void> {
  const release = await holdTheApp(p.page);
  await p.page.goto(server().url + '/', { waitUntil: 'domcontentloaded' });
  await p.page.getByLabel('Your name').fill(name);
  await p.page.getByLabel('Room').fill(room);
  await p.page.getByRole('button', { name: 'Join' }).click();
  await expect(p.page).toHaveURL(new RegExp(`/call/${name}/${room}$`));
  return release;
}

/** Bob alone in `room`, his signaling frames recorded, and the seats the server held then. */
async function bobWaitsIn(room: string) {
  const bob = await person();
  const bobFrames = framesOf(bob.page);
  await bob.joinThroughForm(server().url, 'Bob', room);
  await expect(bob.status()).toHaveText('Waiting for someone to join.');
  return { bob, bobFrames, seatsBefore: await seats(server()) };
}

test('a call page joins while its app loads, then the app takes the socket over: one join, one seat, every signal handled', async () => {
  const room = `early-${Date.now()}`;
  const { bob, bobFrames, seatsBefore } = await bobWaitsIn(room);

  const alice = await person();
  const aliceFrames = framesOf(alice.page);
  const release = await joinBeforeTheApp(alice, 'Alice', room);
  // Seated before her app is there: Bob hears of her and sends his offer, which waits in
  // her page with the server's answer to her join.
  await expect.poll(() => ofType(bobFrames.received, 'peer_joined').length).toBe(1);
  await expect
    .poll(() => aliceFrames.received.filter((f) => f.signal?.kind === 'offer').length)
    .toBeGreaterThan(0);
  expect(await alice.page.evaluate(() => document.documentElement.dataset.hydrated)).toBeUndefined();
  expect(ofType(aliceFrames.received, 'joined')).toHaveLength(1);
  expect(await seats(server())).toBe(seatsBefore + 1);

  release();
  await waitForHydration(alice.page);
  await expectRemoteVideoFlowing(alice);
  await expectRemoteVideoFlowing(bob);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  // One join on one socket, one seat, and Bob saw her arrive once.
  expect(ofType(aliceFrames.sent, 'join')).toHaveLength(1);
  expect(ofType(aliceFrames.sent, 'resume')).toHaveLength(0);
  expect(ofType(bobFrames.received, 'peer_joined')).toHaveLength(1);
  expect(ofType(bobFrames.received, 'peer_left')).toHaveLength(0);
  expect(await seats(server())).toBe(seatsBefore + 1);
});

test('a call page whose app never arrives gives its seat back when it is closed', async () => {
  const room = `never-${Date.now()}`;
  const { bob, bobFrames, seatsBefore } = await bobWaitsIn(room);

  const alice = await person();
  await joinBeforeTheApp(alice, 'Alice', room); // never released
  await expect.poll(() => ofType(bobFrames.received, 'peer_joined').length).toBe(1);
  expect(await seats(server())).toBe(seatsBefore + 1);

  await alice.page.close({ runBeforeUnload: true });
  // Gone at once (its `leave`, or the server freeing a seat no app has spoken on), not
  // after the seat's grace for a reload: well within the heartbeat timeout (10 s).
  await expect.poll(() => ofType(bobFrames.received, 'peer_left').length, { timeout: 10_000 }).toBe(1);
  await expect(bob.status()).toHaveText('Alice left the call. Waiting for someone to join.');
  expect(await seats(server())).toBe(seatsBefore);
});

/** Alice opens `room`'s link as pasted into the address bar: the card, which takes no seat
 * before Join now, with her app held back and her signaling frames recorded. */
async function aliceOnTheCardBeforeTheApp(room: string) {
  const alice = await person();
  const aliceFrames = framesOf(alice.page);
  const release = await holdTheApp(alice.page);
  await alice.page.goto(`${server().url}/call/Alice/${room}`, { waitUntil: 'domcontentloaded' });
  return { alice, aliceFrames, release };
}

test('on the join card, Join now pressed before the app takes the seat then, as typed, and the app keeps it', async () => {
  const room = `card-${Date.now()}`;
  const { bob, bobFrames, seatsBefore } = await bobWaitsIn(room);
  const { alice, aliceFrames, release } = await aliceOnTheCardBeforeTheApp(room);
  await alice.page.getByLabel('Your name').fill(' Alicia ');
  await expect.poll(() => aliceFrames.sent.length).toBe(0);
  await alice.page.getByRole('button', { name: 'Join now' }).click();
  await expect.poll(() => ofType(bobFrames.received, 'peer_joined').map((f) => f.peer.name)).toEqual(['Alicia']);
  expect(await alice.page.evaluate(() => document.documentElement.dataset.hydrated)).toBeUndefined();

  release();
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alicia.');
  await expectRemoteVideoFlowing(alice);
  expect(ofType(aliceFrames.sent, 'join')).toHaveLength(1);
  expect(ofType(bobFrames.received, 'peer_joined')).toHaveLength(1);
  expect(await seats(server())).toBe(seatsBefore + 1);
});

test('a Join now refused before the app, pressed again once it is there, joins once', async () => {
  const room = `card-again-${Date.now()}`;
  const { bob, bobFrames, seatsBefore } = await bobWaitsIn(room);
  const { alice, aliceFrames, release } = await aliceOnTheCardBeforeTheApp(room);
  // No name: the page's script does not join, and the app says why once it is there.
  await alice.page.getByLabel('Your name').fill('   ');
  await alice.page.getByRole('button', { name: 'Join now' }).click();
  release();
  await waitForHydration(alice.page);
  await expect(alice.page.getByRole('alert').first()).not.toBeEmpty();
  expect(aliceFrames.sent).toHaveLength(0);
  // The app joins now, and the page's script, still listening, does not join a second time.
  await alice.page.getByLabel('Your name').fill('Alice');
  await alice.page.getByRole('button', { name: 'Join now' }).click();
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expect(alice.status()).toHaveText('Connected with Bob.');
  expect(ofType(aliceFrames.sent, 'join')).toHaveLength(1);
  expect(ofType(bobFrames.received, 'peer_joined')).toHaveLength(1);
  expect(await seats(server())).toBe(seatsBefore + 1);
});
