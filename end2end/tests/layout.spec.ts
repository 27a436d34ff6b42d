import { test, expect } from '@playwright/test';
import { expectRemoteVideoFlowing, peopleForEachTest, sharedServer } from './support';

const server = sharedServer();
const person = peopleForEachTest();

test('on a phone the other person fills the screen and every control is in reach', async ({}, testInfo) => {
  const room = `phone-${Date.now()}`;
  const phone = await person();
  const laptop = await person();
  const viewport = { width: 390, height: 844 };
  await phone.page.setViewportSize(viewport);
  await phone.joinThroughForm(server().url, 'Pat', room);
  await laptop.joinThroughForm(server().url, 'Lee', room);
  await expect(phone.status()).toHaveText('Connected with Lee.');
  await expectRemoteVideoFlowing(phone);

  const shot = testInfo.outputPath('phone-call.png');
  await phone.page.screenshot({ path: shot });
  await testInfo.attach('phone call', { path: shot, contentType: 'image/png' });

  // Nothing sticks out sideways.
  expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
  // Every call control is fully on screen without scrolling.
  for (const name of ['Mute', 'Camera off', 'Share screen', 'Stats', 'Hang up']) {
    const box = (await phone.page.getByRole('button', { name, exact: true }).boundingBox())!;
    expect(box.x, name).toBeGreaterThanOrEqual(0);
    expect(box.y, name).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width, name).toBeLessThanOrEqual(viewport.width);
    expect(box.y + box.height, name).toBeLessThanOrEqual(viewport.height);
  }
  // The remote video spans the width and most of the height; the local one is a corner tile.
  const remote = (await phone.page.locator('.tile.remote').boundingBox())!;
  const local = (await phone.page.locator('.tile.local').boundingBox())!;
  expect(remote.width).toBeGreaterThanOrEqual(viewport.width - 20);
  expect(remote.height).toBeGreaterThanOrEqual(viewport.height * 0.6);
  expect(local.width * local.height).toBeLessThan(remote.width * remote.height * 0.15);
  expect(local.x + local.width).toBeLessThanOrEqual(remote.x + remote.width);
  expect(local.y + local.height).toBeLessThanOrEqual(remote.y + remote.height);
});

test('on a desktop, video and chat sit side by side', async () => {
  const p = await person();
  await p.page.setViewportSize({ width: 1280, height: 800 });
  await p.joinThroughForm(server().url, 'Dee', `desk-${Date.now()}`);
  const stage = (await p.page.locator('.stage').boundingBox())!;
  const chat = (await p.page.getByRole('complementary', { name: 'Chat' }).boundingBox())!;
  expect(chat.x).toBeGreaterThanOrEqual(stage.x + stage.width);
  expect(Math.abs(chat.y - stage.y)).toBeLessThan(40);
  for (const name of ['Mute', 'Hang up']) {
    const box = (await p.page.getByRole('button', { name, exact: true }).boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(800);
  }
});
