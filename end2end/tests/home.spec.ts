import { test, expect } from '@playwright/test';
import { peopleForEachTest, sharedServer, waitForHydration, holdTheApp } from './support';

// The home form must work before the app has loaded: on a phone link the wasm arrives
// seconds after the page, and people press Join meanwhile.
const server = sharedServer();
const person = peopleForEachTest();

test('with JavaScript off, Join goes to the call, and a mistake comes back with what was typed', async () => {
  const p = await person();
  const context = await p.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(server().url + '/?room=from-an-invite');
  await expect(page.getByLabel('Room')).toHaveValue('from-an-invite');
  // An invite link is not a mistake: nothing is flagged yet.
  await expect(page.locator('#name-error')).toBeEmpty();

  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page).toHaveURL(/\/\?name=&room=from-an-invite$/);
  await expect(page.locator('#name-error')).toHaveText('Enter your name.');
  await expect(page.getByLabel('Room')).toHaveValue('from-an-invite');

  await page.getByLabel('Your name').fill('Zoë Q');
  await page.getByLabel('Room').fill('no spaces here');
  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page.locator('#room-error')).toHaveText('The room may only contain letters, digits, “-” and “_”.');
  await expect(page.getByLabel('Your name')).toHaveValue('Zoë Q');
  await expect(page.locator('#name-error')).toBeEmpty();

  await page.getByLabel('Room').fill('kitchen');
  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page).toHaveURL(/\/call\/Zo%C3%AB%20Q\/kitchen$/);
  await context.close();
});

test('Join pressed while the app is still loading goes to the call, which starts once it has', async () => {
  const p = await person();
  const release = await holdTheApp(p.page);
  await p.page.goto(server().url + '/', { waitUntil: 'domcontentloaded' });
  await p.page.getByLabel('Your name').fill('Early');
  await p.page.getByLabel('Room').fill('slow-link');
  await p.page.getByRole('button', { name: 'Join' }).click();
  await expect(p.page).toHaveURL(/\/call\/Early\/slow-link$/);
  release();
  await waitForHydration(p.page);
  await expect(p.status()).toHaveText('Waiting for someone to join.');
});

test('what is typed while the app is still loading is still there once it has, and Join takes it', async () => {
  const p = await person();
  const release = await holdTheApp(p.page);
  // An invite link: the room is filled in by the server, the name typed before the app is up.
  await p.page.goto(server().url + '/?room=typed-early', { waitUntil: 'domcontentloaded' });
  await p.page.getByLabel('Your name').fill('Quick');
  release();
  await waitForHydration(p.page);
  await expect(p.page.getByLabel('Your name')).toHaveValue('Quick');
  await expect(p.page.getByLabel('Room')).toHaveValue('typed-early');
  await expect(p.page.locator('#name-error')).toBeEmpty();
  await p.page.getByRole('button', { name: 'Join' }).click();
  await expect(p.page).toHaveURL(/\/call\/Quick\/typed-early$/);
  await expect(p.status()).toHaveText('Waiting for someone to join.');
});

test('the page a mistake comes back to is taken over by the app, with what was typed', async () => {
  const p = await person();
  await p.page.goto(server().url + '/?name=&room=from-a-slow-link');
  await waitForHydration(p.page);
  await expect(p.page.locator('#name-error')).toHaveText('Enter your name.');
  await expect(p.page.getByLabel('Room')).toHaveValue('from-a-slow-link');
  await p.page.getByLabel('Your name').fill('Late');
  await p.page.getByRole('button', { name: 'Join' }).click();
  await expect(p.page).toHaveURL(/\/call\/Late\/from-a-slow-link$/);
  await expect(p.status()).toHaveText('Waiting for someone to join.');
});
