import { test, expect } from '@playwright/test';
import { type Person, peopleForEachTest, sharedServer } from './support';

// Issue 22: the people in a call decide who is in it. The first in a room hosts it; the
// host can ask someone to mute, remove someone, and hand the role on; when the host
// leaves, whoever has been there longest hosts.
const shared = sharedServer();
const person = peopleForEachTest();

/** The row of `name` in `p`'s people list. */
function row(p: Person, name: string) {
  return p.page.getByRole('region', { name: 'People' }).locator('li', { hasText: name });
}

test('the host asks to mute, removes someone, hands the role on, and the longest there follows a host who leaves', async ({}, testInfo) => {
  const room = `host-${Date.now()}`;
  const [alice, bob, carol] = [await person(), await person(), await person()];
  await alice.joinThroughForm(shared().url, 'Alice', room);
  await bob.joinThroughForm(shared().url, 'Bob', room);
  await carol.joinThroughForm(shared().url, 'Carol', room);
  for (const [p, status] of [
    [alice, 'Connected with Bob and Carol.'],
    [bob, 'Connected with Alice and Carol.'],
    [carol, 'Connected with Alice and Bob.'],
  ] as const) {
    await expect(p.status()).toHaveText(status, { timeout: 30_000 });
  }
  // Everyone sees Alice as the host, on her tile and in the people list.
  await expect(row(alice, 'Alice (you)').getByText('Host')).toBeVisible();
  for (const p of [bob, carol]) {
    await expect(row(p, 'Alice').getByText('Host')).toBeVisible();
    await expect(p.page.locator('.tile.remote', { has: p.page.getByLabel('Video from Alice') }).locator('.host-badge')).toBeVisible();
    // Only the host has the host's buttons.
    await expect(p.page.getByRole('button', { name: 'Ask to mute' })).toHaveCount(0);
  }
  await alice.page.setViewportSize({ width: 1280, height: 800 });
  const shot = testInfo.outputPath('host-people-list-1280x800.png');
  await alice.page.screenshot({ path: shot });
  await testInfo.attach('the host and the people list', { path: shot, contentType: 'image/png' });

  // Asked to mute, Bob mutes himself; the page says only he can.
  await row(alice, 'Bob').getByRole('button', { name: 'Ask to mute' }).click();
  const ask = bob.page.getByRole('alert').filter({ hasText: 'Alice asks you to mute' });
  await expect(ask).toContainText('only you can switch it off');
  await ask.getByRole('button', { name: 'Mute', exact: true }).click();
  await expect(bob.page.getByRole('toolbar').getByRole('button', { name: 'Mute', exact: true })).toHaveAttribute('aria-pressed', 'true');
  await expect(ask).toBeHidden();
  await expect(alice.page.getByText('Bob muted')).toBeVisible();

  // Removing Carol asks first; then her page says so, and the others carry on as two.
  await row(alice, 'Carol').getByRole('button', { name: 'Remove Carol from the call' }).click();
  await alice.page.getByRole('button', { name: 'Cancel' }).click();
  await expect(carol.status()).toHaveText('Connected with Alice and Bob.');
  await row(alice, 'Carol').getByRole('button', { name: 'Remove Carol from the call' }).click();
  await alice.page.getByRole('button', { name: 'Remove Carol', exact: true }).click();
  await expect(carol.page.getByRole('heading', { name: 'Removed from the call' })).toBeVisible();
  await expect(carol.status()).toHaveText('Alice removed you from the call.');
  await expect(carol.page.locator('.call-over')).toContainText('Alice removed you from the call.');
  await expect(carol.page.getByRole('button', { name: 'Rejoin' })).toHaveCount(0);
  await expect(alice.status()).toHaveText('Carol left the call. Connected with Bob.');
  await expect(bob.status()).toHaveText('Carol left the call. Connected with Alice.');
  // Carol's page holds no connection and no socket any more.
  await expect
    .poll(() => carol.page.evaluate(() => (window as any).__pcs.filter((pc: RTCPeerConnection) => pc.connectionState !== 'closed').length))
    .toBe(0);

  // The role handed to Bob: both pages say so.
  await row(alice, 'Bob').getByRole('button', { name: 'Make host' }).click();
  await expect(bob.page.getByText('You are now the host.')).toBeVisible();
  await expect(alice.page.getByText('Bob is now the host.')).toBeVisible();
  await expect(row(bob, 'Bob (you)').getByText('Host')).toBeVisible();
  await expect(alice.page.getByRole('button', { name: 'Ask to mute' })).toHaveCount(0);

  // A third person arrives, then the host hangs up: Alice has been there longest.
  const dan = await person();
  await dan.joinThroughForm(shared().url, 'Dan', room);
  await expect(row(dan, 'Bob').getByText('Host')).toBeVisible();
  await bob.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(alice.page.getByText('You are now the host.')).toBeVisible();
  await expect(row(dan, 'Alice').getByText('Host')).toBeVisible();
});

test('a locked room: a knock is admitted, the next denied, one given up; nobody waiting is seen', async ({}, testInfo) => {
  const room = `locked-${Date.now()}`;
  const [alice, bob] = [await person(), await person()];
  await alice.joinThroughForm(shared().url, 'Alice', room);
  await bob.joinThroughForm(shared().url, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.', { timeout: 30_000 });
  await expect(bob.page.getByRole('button', { name: 'Lock room' })).toHaveCount(0);
  await alice.page.getByRole('button', { name: 'Lock room' }).click();
  for (const p of [alice, bob]) await expect(p.page.getByRole('region', { name: 'People' }).getByText('Locked')).toBeVisible();

  // Dave waits at the door: no seat, no connection, nobody but the host knows.
  const dave = await person();
  await dave.joinThroughForm(shared().url, 'Dave', room);
  await expect(dave.status()).toHaveText('Waiting for Alice to let you in…');
  const prompt = alice.page.getByRole('alert').filter({ hasText: 'Dave is asking to join.' });
  await expect(prompt).toBeVisible();
  await expect.poll(() => alice.page.title()).toBe('Dave is asking to join');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  expect(await dave.page.evaluate(() => (window as any).__pcs.length)).toBe(0);
  for (const [who, p] of [['waiting', dave], ['knock', alice]] as const) {
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await p.page.setViewportSize(viewport);
      const shot = testInfo.outputPath(`${who}-${viewport.width}x${viewport.height}.png`);
      await p.page.screenshot({ path: shot });
      await testInfo.attach(`${who} at ${viewport.width}×${viewport.height}`, { path: shot, contentType: 'image/png' });
    }
  }
  await alice.page.setViewportSize({ width: 1280, height: 800 });
  const pressed = Date.now();
  await prompt.getByRole('button', { name: 'Admit' }).click();
  await expect(dave.status()).toHaveText('Connected with Alice and Bob.', { timeout: 30_000 });
  await expect.poll(() => dave.page.evaluate(() => (document.querySelector('.tile.remote video') as HTMLVideoElement)?.videoWidth ?? 0)).toBeGreaterThan(0);
  testInfo.annotations.push({ type: 'measure', description: `knock admitted → Dave's first remote frame: ${Date.now() - pressed} ms` });
  console.log(`[measure] admit pressed → Dave's first remote frame: ${Date.now() - pressed} ms`);
  await expect(prompt).toBeHidden();
  await expect.poll(() => alice.page.title()).not.toContain('asking to join');

  // Erin is turned away.
  const erin = await person();
  await erin.joinThroughForm(shared().url, 'Erin', room);
  await alice.page.getByRole('alert').filter({ hasText: 'Erin is asking to join.' }).getByRole('button', { name: 'Deny' }).click();
  await expect(erin.page.getByRole('heading', { name: 'Not let in' })).toBeVisible();
  await expect(erin.status()).toHaveText('Alice did not let you in.');
  expect(await erin.page.evaluate(() => (window as any).__pcs.length)).toBe(0);

  // Frank gives up waiting: the host's prompt goes.
  const frank = await person();
  await frank.joinThroughForm(shared().url, 'Frank', room);
  const frankPrompt = alice.page.getByRole('alert').filter({ hasText: 'Frank is asking to join.' });
  await expect(frankPrompt).toBeVisible();
  await frank.page.getByRole('button', { name: 'Cancel' }).click();
  await expect(frankPrompt).toBeHidden();
  await expect(alice.status()).toHaveText('Connected with Bob and Dave.');
});
