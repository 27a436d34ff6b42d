import { test, expect } from '@playwright/test';
import { Coturn, Server, peopleForEachTest, relayedPair } from './support';

// A real coturn with `use-auth-secret`, and Tandem handing out credentials made from a
// secret. Both browsers are told `iceTransportPolicy: "relay"`, so the only way media can
// flow between them is through the TURN server.
const SECRET = 'tandem-e2e-turn-secret-0123456789';
const person = peopleForEachTest();

let turn: Coturn;
test.beforeAll(async () => {
  turn = await Coturn.start(SECRET);
});
test.afterAll(async () => {
  await turn?.stop();
});

async function tandem(secret: string): Promise<Server> {
  return Server.start({
    args: ['--turn-url', turn.url, '--turn-secret', secret, '--ice-transport-policy', 'relay'],
  });
}

const room = () => `turn-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

test('with the shared secret, a relay-only call connects through TURN and video arrives', async () => {
  const server = await tandem(SECRET);
  try {
    // Both ends of the pair in use are relay candidates: the media went through coturn.
    await relayedPair(server.url, person);
    // The browsers' allocations were made with the credentials Tandem handed out.
    expect(turn.logs()).toMatch(/ALLOCATE processed, success/);
  } finally {
    await server.stop();
  }
});

test('with a wrong secret, TURN refuses the credentials and the relay-only call cannot connect', async () => {
  const server = await tandem('not-the-secret-coturn-knows');
  try {
    const [alice, bob] = [await person(), await person()];
    const r = room();
    await alice.joinThroughForm(server.url, 'Alice', r);
    await bob.joinThroughForm(server.url, 'Bob', r);
    // coturn answers every allocation with 401 Unauthorized…
    for (const p of [alice, bob]) {
      await expect.poll(async () => (await p.iceErrors()).map((e) => e.code), { timeout: 15_000 }).toContain(401);
    }
    // …so once gathering is over there is no relay candidate on either side, hence no
    // pair to try, and nothing can ever be decoded.
    for (const p of [alice, bob]) {
      await expect.poll(() => p.pc((pc) => pc.iceGatheringState), { timeout: 30_000 }).toBe('complete');
      expect(await p.localCandidateTypes()).toEqual([]);
    }
    for (const p of [alice, bob]) {
      expect(await p.pc((pc) => pc.connectionState)).not.toBe('connected');
      expect(await p.framesDecoded()).toBe(0);
    }
    await expect(alice.status()).not.toHaveText(/Connected with/);
  } finally {
    await server.stop();
  }
});
