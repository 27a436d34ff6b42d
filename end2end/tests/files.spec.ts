import { test, expect } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Server, Person, connectedPair, peopleForEachTest, sharedServer } from './support';

const server = sharedServer();
const person = peopleForEachTest();
// The size limit is the server's setting: one server with a small limit for that test.
const smallLimitServer = sharedServer({ args: ['--max-file-bytes', String(1 << 20)] });

const call = (s: () => Server = server) => connectedPair(s().url, person);

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function progress(p: Person, label: string): Promise<[number, number]> {
  const bar = p.page.getByRole('progressbar', { name: label });
  return bar.evaluate((b: HTMLProgressElement) => [b.value, b.max] as [number, number]);
}

test('a 5 MB file arrives with identical bytes, and both progress bars reach 100%', async () => {
  const [alice, bob] = await call();
  const data = randomBytes(5 * 1024 * 1024);
  await alice.page.getByLabel('Send a file').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: data });

  const save = bob.page.getByRole('link', { name: 'Save big.bin' });
  await expect(save).toBeVisible({ timeout: 30_000 });
  await expect(save).toHaveAttribute('download', 'big.bin');
  // Saved the way a person saves it: a click on the link, and the browser's download.
  const [download] = await Promise.all([bob.page.waitForEvent('download'), save.click()]);
  expect(download.suggestedFilename()).toBe('big.bin');
  const bytes = await readFile(await download.path());
  const received = { size: bytes.length, sha256: sha256(bytes) };
  expect(received).toEqual({ size: data.length, sha256: sha256(data) });
  expect(await progress(bob, 'Receiving big.bin')).toEqual([data.length, data.length]);
  await expect(bob.page.getByText('Received intact')).toBeVisible();
  await expect(alice.page.getByText('Sent', { exact: true })).toBeVisible();
  expect(await progress(alice, 'Sending big.bin')).toEqual([data.length, data.length]);
});

test('a file over the limit is refused up front with the reason', async () => {
  const [alice, bob] = await call(smallLimitServer);
  await expect(alice.page.getByText('up to 1.0 MiB')).toBeVisible();
  await alice.page.getByLabel('Send a file').setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: randomBytes(2 << 20) });
  await expect(alice.page.getByRole('alert').filter({ hasText: 'huge.bin' })).toHaveText('“huge.bin” is 2.0 MiB — files can be at most 1.0 MiB.');
  await expect(bob.page.locator('.transfer')).toHaveCount(0);
  await expect(alice.page.locator('.transfer')).toHaveCount(0);
});

/** Alice's next transfer stops after about 1 MiB, so it is surely in flight. */
const pauseAfterOneMiB = (p: Person) => p.page.evaluate(() => ((window as any).__pauseFilesAfter = 65));

test('the receiver can cancel a transfer, and both sides say so', async () => {
  const [alice, bob] = await call();
  await pauseAfterOneMiB(alice);
  await alice.page.getByLabel('Send a file').setInputFiles({ name: 'slow.bin', mimeType: 'application/octet-stream', buffer: randomBytes(16 * 1024 * 1024) });
  const cancel = bob.page.getByRole('button', { name: 'Cancel slow.bin' });
  await expect(cancel).toBeVisible({ timeout: 30_000 });
  await cancel.click();
  for (const p of [alice, bob]) {
    await expect(p.page.locator('.transfer .file-state')).toHaveText('Cancelled');
  }
  await expect(bob.page.getByRole('link', { name: 'Save slow.bin' })).toHaveCount(0);
  // The call itself is untouched, and chat still works.
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await alice.page.getByLabel('Message').fill('still here?');
  await alice.page.getByLabel('Message').press('Enter');
  await expect(bob.page.locator('.chat-lines li .text').last()).toHaveText('still here?');
});

test('the sender can cancel too', async () => {
  const [alice, bob] = await call();
  await pauseAfterOneMiB(alice);
  await alice.page.getByLabel('Send a file').setInputFiles({ name: 'oops.bin', mimeType: 'application/octet-stream', buffer: randomBytes(16 * 1024 * 1024) });
  // Once the receiver shows it, the bytes are on their way.
  await expect(bob.page.getByRole('progressbar', { name: 'Receiving oops.bin' })).toBeVisible({ timeout: 30_000 });
  await alice.page.getByRole('button', { name: 'Cancel oops.bin' }).click();
  for (const p of [alice, bob]) {
    await expect(p.page.locator('.transfer .file-state')).toHaveText('Cancelled');
  }
  await expect(bob.page.getByRole('link', { name: 'Save oops.bin' })).toHaveCount(0);
});
