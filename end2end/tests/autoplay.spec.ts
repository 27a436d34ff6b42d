import { test, expect } from '@playwright/test';
import { peopleForEachTest, sharedServer } from './support';

const server = sharedServer();
const person = peopleForEachTest();

test('a call link opened cold offers "Play" when the browser blocks sound, and the click starts it', async () => {
  const room = `cold-${Date.now()}`;
  const alice = await person();
  // Chromium lets a page that is capturing the camera play sound at once; Bob says no
  // to the camera, as someone only listening in would.
  const bob = await person({ autoplayNeedsClick: true, allowMedia: false });
  // Bob presses Join now on the card and waits alone. With this policy only a click
  // of the last 5 s lets a page start sound (the lifetime of a browser's 'transient'
  // user activation); Playwright's own calls into a page count as a click, so nothing
  // touches Bob's page until his browser has tried to play Alice.
  await bob.openLink(`${server().url}/call/Bob/${room}`);
  await expect(bob.status()).toHaveText('Waiting for someone to join.');
  await new Promise((r) => setTimeout(r, 6_000));
  await alice.joinThroughForm(server().url, 'Alice', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  const video = bob.remoteVideo();
  const play = bob.page.getByRole('button', { name: "Play the other person's audio" });
  await expect(play).toBeVisible();
  expect(await video.evaluate((v: HTMLVideoElement) => v.paused)).toBe(true);

  await play.click();
  await expect(play).toBeHidden();
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => !v.paused && !v.muted)).toBe(true);
  // Alice's sound is playing: the element's audio track is live and time moves on.
  const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(t0 + 0.5);
  expect(
    await video.evaluate((v: HTMLVideoElement) =>
      (v.srcObject as MediaStream).getAudioTracks().filter((t) => t.readyState === 'live').length,
    ),
  ).toBe(1);
});
