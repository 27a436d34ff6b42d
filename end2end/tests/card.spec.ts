import { test, expect, type Page } from '@playwright/test';
import { type Person, peopleForEachTest, sharedServer, waitForHydration, holdTheApp } from './support';

// Issue 22: a call link opened from elsewhere (another site, typed, pasted) shows a card
// first: the camera preview, the name from the link, microphone and camera switches,
// and Join now. Nothing is sent and no seat is taken before that click.
const server = sharedServer();
const person = peopleForEachTest();

/** `p` follows a link to `url` on a page of another site, as from a chat or an email. */
async function followLinkFromAnotherSite(p: Person, url: string): Promise<void> {
  await p.page.route('http://elsewhere.example/**', (route) =>
    route.fulfill({ contentType: 'text/html', body: `<a href="${url}">the call</a>` }),
  );
  await p.page.goto('http://elsewhere.example/');
  await p.page.getByRole('link', { name: 'the call' }).click();
}

/** Every WebSocket `page` opens, by URL. */
function socketsOpened(page: Page): string[] {
  const opened: string[] = [];
  page.on('websocket', (ws) => opened.push(ws.url()));
  return opened;
}

test('a link from another site opens on the card: nobody sees the person until Join now, who joins as they chose there', async ({}, testInfo) => {
  const room = `card-${Date.now()}`;
  const alice = await person();
  const bob = await person();
  // Alice comes through the home form: straight into the call, no card.
  await alice.joinThroughForm(server().url, 'Alice', room);
  await expect(alice.status()).toHaveText('Waiting for someone to join.');
  await expect(alice.page.locator('#join-card')).toHaveCount(0);

  const sockets = socketsOpened(bob.page);
  await followLinkFromAnotherSite(bob, `${server().url}/call/Bob/${room}`);
  await expect(bob.page.getByRole('heading', { name: `Join room ${room}` })).toBeVisible();
  await waitForHydration(bob.page);
  await expect(bob.page.getByLabel('Your name')).toHaveValue('Bob');
  const preview = bob.page.getByLabel('Your camera preview');
  await expect.poll(() => preview.evaluate((v: HTMLVideoElement) => v.videoWidth)).toBeGreaterThan(0);
  for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    await bob.page.setViewportSize(viewport);
    const shot = testInfo.outputPath(`card-${viewport.width}x${viewport.height}.png`);
    await bob.page.screenshot({ path: shot });
    await testInfo.attach(`the card at ${viewport.width}×${viewport.height}`, { path: shot, contentType: 'image/png' });
  }
  // The camera runs for the preview, and nothing else has happened: no socket, no
  // connection, and Alice still waits alone.
  expect(sockets).toEqual([]);
  expect(await bob.page.evaluate(() => (window as any).__pcs.length)).toBe(0);
  await expect(alice.status()).toHaveText('Waiting for someone to join.');
  await expect(alice.page.getByRole('region', { name: 'People' }).locator('li')).toHaveCount(1);

  await bob.page.getByLabel('Your name').fill('Robert');
  await bob.page.getByRole('switch', { name: 'Microphone' }).uncheck();
  await bob.page.getByRole('button', { name: 'Join now' }).click();
  await expect(alice.status()).toHaveText('Connected with Robert.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  expect(sockets).toHaveLength(1);
  // A reload opens the call under the name chosen.
  expect(bob.page.url()).toBe(`${server().url}/call/Robert/${room}`);
  // The microphone stays off, as switched on the card.
  await expect(alice.page.getByText('Robert muted')).toBeVisible();
  await expect(bob.page.getByText('You are muted')).toBeVisible();
});

test('Join now is the click a browser wants before sound: the others are heard without "Play audio"', async () => {
  const room = `card-sound-${Date.now()}`;
  const alice = await person();
  await alice.joinThroughForm(server().url, 'Alice', room);
  // Sound may start once the page has had a click, as Chrome has it; and Bob sends no
  // camera (Chromium lets a page capturing one play sound at once).
  const bob = await person({ autoplayAfterAClick: true, allowMedia: false });
  // Every play() the app tries, and whether the browser let it.
  await bob.page.addInitScript(() => {
    const w = window as any;
    w.__plays = [];
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function (this: HTMLMediaElement) {
      const tried = play.call(this);
      // Said in the console too: the test waits for it without touching the page.
      tried.then(
        () => (w.__plays.push('played'), console.log('__played')),
        (e: Error) => (w.__plays.push(e.name), console.log('__play refused')),
      );
      return tried;
    };
  });
  await followLinkFromAnotherSite(bob, `${server().url}/call/Bob/${room}`);
  // Playwright's own calls into a page count as a click there too: after Join now,
  // nothing touches Bob's page until his browser has tried to play Alice.
  const tried = bob.page.waitForEvent('console', {
    predicate: (m) => m.text().startsWith('__play'),
    timeout: 30_000,
  });
  await bob.page.getByRole('button', { name: 'Join now' }).click();
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await tried;
  expect(await bob.page.evaluate(() => (window as any).__plays)).toContain('played');
  expect(await bob.page.evaluate(() => (window as any).__plays)).not.toContain('NotAllowedError');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  const video = bob.remoteVideo();
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => !v.paused && !v.muted && v.videoWidth > 0)).toBe(true);
  const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(t0 + 0.5);
  await expect(bob.page.getByRole('button', { name: /^Play .*audio$/ })).toHaveCount(0);
});

test('a home link carrying a name and a room, from another site, still opens on the card', async () => {
  const p = await person();
  const sockets = socketsOpened(p.page);
  const room = `card-home-${Date.now()}`;
  await followLinkFromAnotherSite(p, `${server().url}/?name=Mal&room=${room}`);
  await expect(p.page).toHaveURL(new RegExp(`/call/Mal/${room}$`));
  await expect(p.page.getByRole('heading', { name: `Join room ${room}` })).toBeVisible();
  await waitForHydration(p.page);
  expect(sockets).toEqual([]);
});

test('Join now pressed before the app has loaded joins once it has, as typed and switched', async () => {
  const room = `card-early-${Date.now()}`;
  const alice = await person();
  await alice.joinThroughForm(server().url, 'Alice', room);
  const eve = await person();
  const release = await holdTheApp(eve.page);
  // Pasted into the address bar.
  await eve.page.goto(`${server().url}/call/Eve/${room}`, { waitUntil: 'domcontentloaded' });
  await eve.page.getByLabel('Your name').fill('Early Eve');
  await eve.page.getByRole('switch', { name: 'Camera' }).uncheck();
  await expect(eve.page.getByText('Camera off')).toBeVisible();
  await eve.page.getByRole('button', { name: 'Join now' }).click();
  await expect(eve.page.getByText('Joining as soon as the page has loaded…')).toBeVisible();
  await expect(eve.page.locator('#join-card')).toHaveAttribute('data-sent-early', '');
  expect(eve.page.url()).toBe(`${server().url}/call/Eve/${room}`);
  release();
  await expect(alice.status()).toHaveText('Connected with Early Eve.');
  await expect(eve.status()).toHaveText('Connected with Alice.');
  // Her camera stays off: Alice sees the placeholder, not a picture.
  await expect(alice.page.locator('.tile.remote.camera-off')).toHaveCount(1);
});

test("without JavaScript, the card's form goes on to the call, with its switches as set", async () => {
  const p = await person();
  const context = await p.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const room = `card-nojs-${Date.now()}`;
  await page.goto(`${server().url}/call/Zed/${room}`);
  await expect(page.getByRole('heading', { name: `Join room ${room}` })).toBeVisible();
  await page.getByLabel('Your name').fill('Zed Z');
  await page.getByRole('switch', { name: 'Camera' }).uncheck();
  await expect(page.getByText('Camera off')).toBeVisible();
  await page.getByRole('button', { name: 'Join now' }).click();
  await expect(page).toHaveURL(new RegExp(`/call/Zed%20Z/${room}\\?camera=off$`));
  // Sent from Tandem's own page: the call itself, not the card again.
  await expect(page.getByRole('region', { name: `Call in room ${room}` })).toBeVisible();
  await expect(page.locator('#join-card')).toHaveCount(0);
  await context.close();
});
