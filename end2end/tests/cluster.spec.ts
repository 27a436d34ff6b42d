import { test, expect } from '@playwright/test';
import { Nginx, Redis, Server, chat, expectRemoteVideoFlowing, peopleForEachTest, seats } from './support';

// Two Tandem servers sharing rooms through a real redis-server, behind Debian's nginx
// running the README's configuration (which keeps each room on one server).
const person = peopleForEachTest();
let redis: Redis;
let nginx: Nginx;
let servers: Server[];

test.beforeEach(async () => {
  redis = await Redis.start();
  const args = [
    '--redis-url', redis.url,
    '--resume-secret', 'end-to-end-cluster-secret',
    '--trusted-proxy', '127.0.0.1',
  ];
  servers = [await Server.start({ args }), await Server.start({ args })];
  nginx = await Nginx.start(servers.map((s) => s.url));
});

test.afterEach(async () => {
  await nginx.stop();
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await redis.stop();
});

test('people on two servers call each other, and a killed server hands its person to the other', async () => {
  const room = `lb-${Date.now()}`;
  const alice = await person();
  const bob = await person();
  // Alice comes through the balancer; the room's hash picks her server.
  await alice.joinThroughForm(nginx.url, 'Alice', room);
  await expect(alice.status()).toHaveText('Waiting for someone to join.');
  const counts = await Promise.all(servers.map(seats));
  expect(counts.sort()).toEqual([0, 1]);
  const [hers, other] = (await seats(servers[0])) === 1 ? servers : [servers[1], servers[0]];
  // Bob comes straight to the other server: the balancer would have kept him with her.
  await bob.joinThroughForm(other.url, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectRemoteVideoFlowing(alice);
  await expectRemoteVideoFlowing(bob);
  await chat(alice, bob, 'hello across servers');

  // Alice's server dies. Her page reconnects through the balancer, which takes her to
  // the other server, where her seat moves: same call, nobody told she left.
  await hers.kill();
  await chat(bob, alice, 'still here: media and chat are peer to peer');
  await expect.poll(() => seats(other), { timeout: 20_000 }).toBe(2);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(alice);
  await expectRemoteVideoFlowing(bob);
  for (const p of [alice, bob]) {
    expect(await p.page.evaluate(() => (window as any).__pcs.length)).toBe(1);
    expect((await p.statusHistory()).filter((s) => s.includes('left'))).toEqual([]);
  }
  // Signaling goes on through the other server: a hang up reaches Bob.
  await alice.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(bob.status()).toHaveText('Alice left the call. Waiting for someone to join.');
});

test('a join while Redis is away says the server is busy, and goes through once it is back', async () => {
  const room = `busy-${Date.now()}`;
  const alice = await person();
  await alice.joinThroughForm(nginx.url, 'Alice', room);
  await expect(alice.status()).toHaveText('Waiting for someone to join.');
  await redis.stop();
  const bob = await person();
  await bob.joinThroughForm(nginx.url, 'Bob', room);
  await expect(bob.status()).toHaveText('Server busy, retrying…');
  // Back, but empty: Alice's server sends her to join again; Bob's retry gets through.
  redis = await Redis.start(redis.port);
  await expect(bob.status()).toHaveText('Connected with Alice.', { timeout: 30_000 });
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectRemoteVideoFlowing(bob);
});

test('a host on one server locks the room and lets in someone knocking on the other', async () => {
  const room = `lb-door-${Date.now()}`;
  const alice = await person();
  const bob = await person();
  const dave = await person();
  // Alice hosts on one server; Bob and Dave come straight to the other.
  await alice.joinThroughForm(servers[0].url, 'Alice', room);
  await bob.joinThroughForm(servers[1].url, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await alice.page.getByRole('button', { name: 'Lock room' }).click();
  for (const p of [alice, bob]) await expect(p.page.getByRole('region', { name: 'People' }).getByText('Locked')).toBeVisible();

  await dave.joinThroughForm(servers[1].url, 'Dave', room);
  await expect(dave.status()).toHaveText('Waiting for Alice to let you in…');
  const prompt = alice.page.getByRole('alert').filter({ hasText: 'Dave is asking to join.' });
  await expect(prompt).toBeVisible();
  expect(await dave.page.evaluate(() => (window as any).__pcs.length)).toBe(0);
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await prompt.getByRole('button', { name: 'Admit' }).click();
  await expect(dave.status()).toHaveText('Connected with Alice and Bob.', { timeout: 30_000 });
  // Both pictures arrive: Alice's from a peer admitted on the other server.
  const remotes = dave.page.locator('.tile.remote video');
  await expect(remotes).toHaveCount(2);
  await expect
    .poll(() => remotes.evaluateAll((vs) => vs.filter((v) => (v as HTMLVideoElement).videoWidth > 0).length))
    .toBe(2);
  await expect(prompt).toBeHidden();
  await expect(alice.status()).toHaveText('Connected with Bob and Dave.');
});
