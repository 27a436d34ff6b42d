import { test, expect } from '@playwright/test';
import { type Person, connectedPair, peopleForEachTest, sharedServer } from './support';

// Issue 22: a code that proves nobody is in the middle. Both pages of a pair derive it
// from the DTLS fingerprints of the connection they really have.
const shared = sharedServer();
const person = peopleForEachTest();

/** The fingerprint lines of the page's only connection: [local, remote]. */
async function fingerprints(p: Person): Promise<[string[], string[]]> {
  return p.page.evaluate(() => {
    const pc = (window as any).__pcs.find((pc: RTCPeerConnection) => pc.connectionState !== 'closed');
    const lines = (sdp: string | undefined) => [...new Set((sdp ?? '').match(/^a=fingerprint:.*$/gm) ?? [])].sort();
    return [lines(pc.currentLocalDescription?.sdp), lines(pc.currentRemoteDescription?.sdp)] as [string[], string[]];
  });
}

async function codeShown(p: Person, other: string): Promise<string> {
  await p.page.getByRole('button', { name: `Verify ${other}` }).click();
  const panel = p.page.getByRole('dialog', { name: 'Verification code' });
  await expect(panel).toContainText(`Your code with ${other}:`);
  return (await panel.locator('.verify-code').textContent()) ?? '';
}

test('both pages of a pair show the same verification code, made from the certificates they see', async () => {
  const [alice, bob] = await connectedPair(shared().url, person);
  // The pages see each other's certificates: what is local on one is remote on the other.
  const [aliceLocal, aliceRemote] = await fingerprints(alice);
  const [bobLocal, bobRemote] = await fingerprints(bob);
  expect(aliceLocal.length).toBeGreaterThan(0);
  expect(aliceRemote).toEqual(bobLocal);
  expect(bobRemote).toEqual(aliceLocal);

  const aliceCode = await codeShown(alice, 'Bob');
  const bobCode = await codeShown(bob, 'Alice');
  expect(aliceCode).toMatch(/^\d{4}( \d{4}){5}$/);
  expect(bobCode).toBe(aliceCode);
  // Opening the panel did not take the tile large, and Close puts it away.
  await expect(alice.page.locator('.tile.remote.large')).toHaveCount(0);
  await alice.page.getByRole('button', { name: 'Close' }).click();
  await expect(alice.page.getByRole('dialog', { name: 'Verification code' })).toBeHidden();
  // The codes matched: Bob marks Alice verified, and her tile says so on his page only.
  await bob.page.getByRole('button', { name: 'Mark Alice as verified' }).click();
  await expect(bob.page.getByRole('dialog', { name: 'Verification code' })).toBeHidden();
  await expect(bob.page.locator('.tile.remote .verified-badge')).toHaveText('Verified');
  await expect(alice.page.locator('.tile.remote .verified-badge')).toHaveCount(0);
});
