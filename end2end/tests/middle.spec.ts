import { test, expect } from '@playwright/test';
import { type Person, peopleForEachTest, serveFixture, sharedServer } from './support';

// Issue 22: the test that proves the verification code. Whoever controls the signaling
// (here the test, routing every signal through a page of its own, `fixtures/middle.html`)
// can put itself in the middle of a call: it answers each side with a peer connection of
// its own and passes the media on. Alice and Bob see each other, and nothing but the code
// tells them: their codes differ.
const shared = sharedServer();
const person = peopleForEachTest();

/** Diverts `p`'s outgoing signals to the test (`__diverted`), and lets the test hand it
 * signals as if from the server (`__deliver`); records its own id from `joined`. */
async function divertSignals(p: Person): Promise<void> {
  await p.page.addInitScript(() => {
    const w = window as any;
    w.__diverted = [];
    const Original = window.WebSocket;
    class Diverted extends Original {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        w.__socket = this;
        this.addEventListener('message', (e: MessageEvent) => {
          const m = JSON.parse(e.data);
          if (m.type === 'joined') w.__you = m.you;
        });
      }
      send(data: any) {
        if (typeof data === 'string' && data.includes('"type":"signal"')) {
          w.__diverted.push(JSON.parse(data));
          return;
        }
        super.send(data);
      }
    }
    (window as any).WebSocket = Diverted;
    w.__deliver = (m: unknown) => w.__socket.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(m) }));
  });
}

async function codeShown(p: Person, other: string): Promise<string> {
  await p.page.getByRole('button', { name: `Verify ${other}` }).click();
  const panel = p.page.getByRole('dialog', { name: 'Verification code' });
  await expect(panel).toContainText(`Your code with ${other}:`);
  return (await panel.locator('.verify-code').textContent()) ?? '';
}

test('a signaling server in the middle of the call shows itself: the two codes differ', async () => {
  const fixture = await serveFixture('middle.html');
  const mallory = await person();
  await mallory.page.goto(fixture.origin);
  const [alice, bob] = [await person(), await person()];
  await divertSignals(alice);
  await divertSignals(bob);
  const room = `middle-${Date.now()}`;
  await alice.joinThroughForm(shared().url, 'Alice', room);
  await bob.joinThroughForm(shared().url, 'Bob', room);
  const id = (p: Person) => p.page.waitForFunction(() => (window as any).__you).then((h) => h.jsonValue() as Promise<number>);
  const [aliceId, bobId] = [await id(alice), await id(bob)];
  await mallory.page.evaluate(([a, b]) => (window as any).start(a, b), [aliceId, bobId]);

  // The test carries signals between the pages and Mallory until both calls are up.
  let routing = true;
  const route = (async () => {
    while (routing) {
      for (const [p, name] of [[alice, 'A'], [bob, 'B']] as const) {
        const sent: any[] = await p.page.evaluate(() => (window as any).__diverted.splice(0)).catch(() => []);
        for (const m of sent) await mallory.page.evaluate(([n, s]) => (window as any).receive(n, s), [name, m.signal] as const);
      }
      const out: [string, unknown][] = await mallory.page.evaluate(() => (window as any).outbox.splice(0));
      for (const [name, m] of out) await (name === 'A' ? alice : bob).page.evaluate((m) => (window as any).__deliver(m), m);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await expect(alice.status()).toHaveText('Connected with Bob.', { timeout: 30_000 });
    await expect(bob.status()).toHaveText('Connected with Alice.', { timeout: 30_000 });
    expect(await mallory.page.evaluate(() => (window as any).connected())).toEqual({ A: 'connected', B: 'connected' });
    // They see each other: Alice's picture reaches Bob through Mallory, and back.
    for (const p of [alice, bob]) {
      await expect
        .poll(() => p.remoteVideo().evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 20_000 })
        .toBeGreaterThan(0);
    }
    // Only the codes tell: each page's code is made with Mallory's certificate.
    const aliceCode = await codeShown(alice, 'Bob');
    const bobCode = await codeShown(bob, 'Alice');
    expect(aliceCode).toMatch(/^\d{4}( \d{4}){5}$/);
    expect(bobCode).toMatch(/^\d{4}( \d{4}){5}$/);
    expect(bobCode).not.toBe(aliceCode);
  } finally {
    routing = false;
    await route;
    fixture.close();
  }
});
