import { test, expect, type Page } from '@playwright/test';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { type Person, peopleForEachTest, repo, sharedServer, waitForHydration } from './support';

// The app in the person's language (issue 24): the server picks it from Accept-Language
// for the first render, the home page's picker changes it and it sticks, and a German
// page shows nothing of the English catalogue.
const shared = sharedServer();
const person = peopleForEachTest();

/** Every text of one language's catalogues, by key (`namespace.key`). */
function catalogue(language: string): Map<string, string> {
  const dir = path.join(repo, 'src', 'locales', language);
  const texts = new Map<string, string>();
  const flatten = (prefix: string, value: unknown) => {
    if (typeof value === 'string') texts.set(prefix, value);
    else for (const [key, inner] of Object.entries(value as object)) flatten(`${prefix}.${key}`, inner);
  };
  for (const file of readdirSync(dir)) flatten(file.replace(/\.json$/, ''), JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  return texts;
}

/** What a person can see or hear of the page: its text and its accessible names. */
async function everythingSaid(page: Page): Promise<string> {
  return page.evaluate(() => {
    const attributes = [...document.querySelectorAll('[aria-label], [title], [placeholder], [alt]')].flatMap((el) =>
      ['aria-label', 'title', 'placeholder', 'alt'].map((a) => el.getAttribute(a) ?? ''));
    return [document.title, document.body.innerText, ...attributes].join('\n');
  });
}

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The English texts (those a translation changes) found on a page in `language`. */
async function englishLeftIn(page: Page, language: string): Promise<string[]> {
  const english = catalogue('en-GB');
  const theirs = catalogue(language);
  const said = await everythingSaid(page);
  return [...english]
    // Language names are each in their own language on purpose (the picker).
    .filter(([key]) => key !== 'common.language_name')
    .filter(([key, text]) => theirs.get(key) !== text)
    // A text with values put in is looked for by its longest fixed part.
    .map(([key, text]) => [key, text.split(/\{\{[^}]*\}\}/).map((part) => part.trim()).sort((a, b) => b.length - a.length)[0]])
    // As whole words: German "Senden" holds no English "Send".
    .filter(([, part]) => part.length >= 4 && new RegExp(`(?<!\\p{L})${escaped(part)}(?!\\p{L})`, 'u').test(said))
    .map(([key, part]) => `${key}: "${part}"`);
}

async function joinThroughTheForm(p: Person, name: string, room: string): Promise<void> {
  await p.page.goto(`${shared().url}/`);
  await waitForHydration(p.page);
  await p.page.locator('#name').fill(name);
  await p.page.locator('#room').fill(room);
  await p.page.locator('form.join-form button[type=submit]').click();
}

test('a German browser gets the home page and the call in German, with nothing left in English', async () => {
  test.setTimeout(120_000);
  const room = `sprache-${Date.now()}`;
  const anna = await person({ locale: 'de-DE', colour: [220, 40, 40] });
  await anna.page.goto(`${shared().url}/`);
  // The server's first page is German already (no flash of English before the app).
  await expect(anna.page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(anna.page.locator('.lede')).toHaveText('Gespräche von Angesicht zu Angesicht, direkt von Browser zu Browser.');
  expect(await englishLeftIn(anna.page, 'de')).toEqual([]);
  // A refused room is said in German too.
  await waitForHydration(anna.page);
  await anna.page.locator('#name').fill('Anna');
  await anna.page.locator('#room').fill('a b');
  await anna.page.locator('form.join-form button[type=submit]').click();
  await expect(anna.page.locator('#room-error')).toHaveText('Der Raumname darf nur Buchstaben, Ziffern, „-“ und „_“ enthalten.');

  // In a call with Bob, whose browser is English: each page in its own language.
  await joinThroughTheForm(anna, 'Anna', room);
  const bob = await person({ colour: [40, 200, 60] });
  await bob.openLink(`${shared().url}/call/Bob/${room}`);
  await expect(anna.page.getByRole('status')).toHaveText('Verbunden mit Bob.', { timeout: 45_000 });
  await expect(bob.status()).toHaveText('Connected with Anna.', { timeout: 45_000 });
  await expect(anna.page.getByRole('toolbar').first()).toBeVisible();
  expect(await englishLeftIn(anna.page, 'de')).toEqual([]);
  // The stats panel too: the path in use and what is sent are worded from the catalogue.
  await anna.page.getByRole('button', { name: 'Statistik', exact: true }).click();
  await expect(anna.page.locator('.stats .sending')).toHaveText(/ an 1 Person$/, { timeout: 10_000 });
  await expect(anna.page.locator('.stats')).toContainText('direkt (Host, UDP)');
  expect(await englishLeftIn(anna.page, 'de')).toEqual([]);
});

test('the language picked on the home page is used at once and kept for the next visit', async () => {
  const p = await person({ locale: 'de-DE' });
  await p.page.goto(`${shared().url}/`);
  await waitForHydration(p.page);
  await p.page.getByLabel('Sprache').selectOption('fr');
  await expect(p.page.locator('.lede')).toHaveText('Des appels en face à face, directement d’un navigateur à l’autre.');
  await expect(p.page.locator('html')).toHaveAttribute('lang', 'fr');
  await expect(p.page.getByRole('button', { name: 'Nouvelle salle' })).toBeVisible();
  expect(await englishLeftIn(p.page, 'fr')).toEqual([]);
  // The next visit starts in French, from the server's first byte.
  await p.page.reload();
  await expect(p.page.locator('html')).toHaveAttribute('lang', 'fr');
  await expect(p.page.getByLabel('Langue')).toHaveValue('fr');
  await expect(p.page.getByRole('button', { name: 'Rejoindre' })).toBeVisible();
  // Spanish works the same way.
  await waitForHydration(p.page);
  await p.page.getByLabel('Langue').selectOption('es');
  await expect(p.page.getByRole('button', { name: 'Sala nueva' })).toBeVisible();
  expect(await englishLeftIn(p.page, 'es')).toEqual([]);
});
