import { test, expect } from '@playwright/test';
import {
  Server,
  Person,
  chat,
  connectedPair,
  expectRemoteVideoFlowing,
  expectFramesGrowing,
  peopleForEachTest,
} from './support';

// Resume tokens must verify after a restart: the restarted server gets the same secret.
const SECRET = ['--resume-secret', 'end-to-end-resume-secret'];
const person = peopleForEachTest();
// Servers here are killed, frozen and restarted, so each test has its own.
const servers: Server[] = [];

test.afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
});

async function server(args: string[] = []): Promise<Server> {
  const s = await Server.start({ args: [...SECRET, ...args] });
  servers.push(s);
  return s;
}

async function call(base: string, bob = {}): Promise<[Person, Person]> {
  const pair = await connectedPair(base, person, { bob });
  await expectRemoteVideoFlowing(pair[0]);
  return pair;
}

test('the call survives a server crash and both sides resume their seats', async () => {
  const first = await server();
  const [alice, bob] = await call(first.url);

  await first.kill();
  for (const p of [alice, bob]) {
    await expect(p.page.getByText('Lost the connection to the server')).toBeVisible();
  }
  // Media and chat go peer to peer: the server is not needed for either.
  await expectRemoteVideoFlowing(alice);
  await expectRemoteVideoFlowing(bob);
  await chat(alice, bob, 'still here?');
  await chat(bob, alice, 'yes, no server needed');

  const second = await Server.start({ port: first.port, args: SECRET });
  servers.push(second);
  for (const p of [alice, bob]) {
    await expect(p.page.getByText('Lost the connection to the server')).toBeHidden({ timeout: 20_000 });
  }
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  // Resumed, not rejoined: the same peer connection, and nobody was ever shown as gone.
  for (const p of [alice, bob]) {
    expect(await p.page.evaluate(() => (window as any).__pcs.length)).toBe(1);
    expect((await p.statusHistory()).filter((s) => s.includes('left'))).toEqual([]);
  }
  // The restarted server still carries signaling: a hang up reaches the other side.
  await alice.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(bob.status()).toHaveText('Alice left the call. Waiting for someone to join.');
});

test('a frozen server is noticed, and the call resumes when it answers again', async () => {
  const s = await server();
  const [alice, bob] = await call(s.url);
  s.pause();
  // The client pings every 5 s and gives up on a server silent for 12 s.
  for (const p of [alice, bob]) {
    await expect(p.page.getByText('Lost the connection to the server')).toBeVisible({ timeout: 25_000 });
  }
  await chat(alice, bob, 'the server froze, we did not');
  s.resume();
  for (const p of [alice, bob]) {
    await expect(p.page.getByText('Lost the connection to the server')).toBeHidden({ timeout: 25_000 });
    await expect(p.status()).toHaveText(/^Connected with/);
    expect(await p.page.evaluate(() => (window as any).__pcs.length)).toBe(1);
    expect((await p.statusHistory()).filter((t) => t.includes('left'))).toEqual([]);
  }
  // Abandoned connection attempts were closed, not left hanging.
  for (const p of [alice, bob]) await expect.poll(() => p.openSockets()).toBe(1);
  await bob.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(alice.status()).toHaveText('Bob left the call. Waiting for someone to join.');
});

test('offers that cross (glare) end stable on both sides, with media flowing', async () => {
  const s = await server();
  const [alice, bob] = await call(s.url);
  // Hold each side's next offer until both have made one, then let them cross.
  for (const p of [alice, bob]) await p.page.evaluate(() => ((window as any).__holdOffers = true));
  await Promise.all([alice, bob].map((p) => p.pc((pc) => void pc.addTransceiver('video'))));
  for (const p of [alice, bob]) {
    await expect.poll(() => p.page.evaluate(() => (window as any).__heldOffers.length)).toBe(1);
  }
  await Promise.all([alice, bob].map((p) => p.page.evaluate(() => (window as any).__releaseOffers())));

  // Bob (polite) met Alice's offer while holding his own: he rolled back and answered.
  await expect
    .poll(() => bob.page.evaluate(() => (window as any).__remoteOfferStates))
    .toContain('have-local-offer');
  // Then his own change went through too: both sides agree on four negotiated transceivers.
  for (const p of [alice, bob]) {
    await expect
      .poll(() =>
        p.pc((pc) => ({
          state: pc.signalingState,
          transceivers: pc.getTransceivers().filter((t) => t.mid !== null).length,
          connection: pc.connectionState,
        })),
      )
      .toEqual({ state: 'stable', transceivers: 4, connection: 'connected' });
  }
  await expectFramesGrowing(alice);
  await expectFramesGrowing(bob);
});

test('an ICE restart renews the connection and frames keep coming', async () => {
  const s = await server();
  const [alice, bob] = await call(s.url);
  const ufrag = (p: Person) =>
    p.pc((pc) => pc.currentLocalDescription?.sdp.match(/a=ice-ufrag:(\S+)/)?.[1]);
  const before = [await ufrag(alice), await ufrag(bob)];
  await alice.pc((pc) => pc.restartIce());
  // New ICE credentials on both sides mean the restart was negotiated end to end.
  await expect.poll(() => ufrag(alice)).not.toBe(before[0]);
  await expect.poll(() => ufrag(bob)).not.toBe(before[1]);
  for (const p of [alice, bob]) {
    await expect.poll(() => p.pc((pc) => pc.signalingState)).toBe('stable');
  }
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expectFramesGrowing(alice);
  await expectFramesGrowing(bob);
});

test('when a browser vanishes, the other side is told within the grace period', async () => {
  // Grace 2 s: the kernel closes the dead browser's socket at once, so the server knows.
  const s = await server(['--resume-grace', '2s']);
  const [alice, bob] = await call(s.url, { killable: true });
  const killedAt = Date.now();
  bob.kill();
  await expect(alice.status()).toHaveText('Bob left the call. Waiting for someone to join.', {
    timeout: 10_000,
  });
  // Told after the grace period, not before (a dropped connection may come back).
  expect(Date.now() - killedAt).toBeGreaterThanOrEqual(1_500);
});

test('when the browser reports a network change, the call restarts ICE at once and keeps its video', async () => {
  const s = await server();
  const [alice, bob] = await call(s.url);
  const ufrag = () => alice.pc((pc) => /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? '')?.[1]);
  const before = await ufrag();
  expect(before).toBeTruthy();
  // Going offline and back online fires the window's `online` event (peer-to-peer media is
  // not cut by Chromium's offline emulation, so the old path still works meanwhile).
  await alice.page.context().setOffline(true);
  await alice.page.context().setOffline(false);
  // A restart gathers new ICE credentials: the local description's ufrag changes.
  await expect.poll(ufrag, { timeout: 5_000 }).not.toBe(before);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectFramesGrowing(alice);
  await expectFramesGrowing(bob);
});
