import { test, expect } from '@playwright/test';
import { type Person, connectedPair, expectRemoteVideoFlowing, peopleForEachTest, sharedServer } from './support';

// Issue 21: one seat, one socket. A page that resumes another page's seat takes the call;
// the first page says so, stops sending, and can take it back.
const shared = sharedServer();
const person = peopleForEachTest();

/** The resume token the page keeps for a reload, and where it keeps it. */
async function keptToken(p: Person): Promise<[string, string]> {
  return p.page.evaluate(() => {
    const key = Object.keys(sessionStorage).find((k) => k.startsWith('tandem:seat:'));
    if (!key) throw new Error('no token kept');
    return [key, sessionStorage.getItem(key)!] as [string, string];
  });
}

/** Every peer connection the page made is closed: it sends nobody anything. */
async function sendsNothing(p: Person): Promise<boolean> {
  return p.page.evaluate(() => (window as any).__pcs.every((pc: RTCPeerConnection) => pc.connectionState === 'closed'));
}

const elsewhere = 'This call is open in another tab or device.';

test('a second page resuming the seat takes the call, the first says so and can take it back', async () => {
  const [alice, bob] = await connectedPair(shared().url, person);
  // Bob's page counts the remote tiles it ever shows at once.
  await bob.page.evaluate(() => {
    const w = window as any;
    w.__mostRemoteTiles = 0;
    const count = () => {
      w.__mostRemoteTiles = Math.max(w.__mostRemoteTiles, document.querySelectorAll('.tile.remote').length);
    };
    count();
    new MutationObserver(count).observe(document, { subtree: true, childList: true });
  });
  const [key, token] = await keptToken(alice);

  // The test hands Alice's token to a second page, as a duplicated tab would have it.
  const second = await person();
  await second.page.addInitScript(([k, t]) => sessionStorage.setItem(k, t), [key, token]);
  await second.openLink(alice.page.url());
  await expect(second.status()).toHaveText('Connected with Bob.', { timeout: 20_000 });
  await expect(alice.status()).toHaveText(elsewhere);
  await expect(alice.page.getByRole('button', { name: 'Use here' })).toBeVisible();
  await expect.poll(() => sendsNothing(alice)).toBe(true);
  await expect.poll(() => alice.openSockets()).toBe(0);
  // Bob sees and hears the second page now.
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectRemoteVideoFlowing(bob);

  // Taking it back works, and the second page is the one told now.
  await alice.page.getByRole('button', { name: 'Use here' }).click();
  await expect(alice.status()).toHaveText('Connected with Bob.', { timeout: 20_000 });
  await expect(second.status()).toHaveText(elsewhere);
  await expect.poll(() => sendsNothing(second)).toBe(true);
  await expect(bob.status()).toHaveText('Connected with Alice.');
  await expectRemoteVideoFlowing(bob);
  await expectRemoteVideoFlowing(alice);
  // The two pages never held the seat at once: Bob never showed two Alices.
  expect(await bob.page.evaluate(() => (window as any).__mostRemoteTiles)).toBe(1);
  await expect(bob.page.locator('.tile.remote')).toHaveCount(1);
});

test('a reloaded page takes its seat back without leaving a second one behind', async () => {
  const [alice, bob] = await connectedPair(shared().url, person);
  await alice.page.reload();
  await expect(alice.status()).toHaveText('Connected with Bob.', { timeout: 20_000 });
  await expectRemoteVideoFlowing(alice);
  await expectRemoteVideoFlowing(bob);
  // No ghost of the page before the reload: one Alice, at once.
  await expect(bob.page.locator('.tile.remote')).toHaveCount(1);
  await expect(bob.status()).toHaveText('Connected with Alice.');
});
