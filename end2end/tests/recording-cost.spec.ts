import { test, expect } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Person, peopleForEachTest, sharedServer } from './support';

// What recording costs (issue 24): the CPU of one Chromium (all its processes) in a call of
// four, over the same stretch of time, not recording and then recording. A measurement, not
// a test: `make bench-recording` runs it; figures land in test-results/recording-cost.json.
const shared = sharedServer();
const person = peopleForEachTest();
const SECONDS = 20;

/** CPU seconds used so far by every process of `p`'s browser. */
async function cpuSeconds(p: Person): Promise<number> {
  const cdp = await p.browser.newBrowserCDPSession();
  const { processInfo } = (await cdp.send('SystemInfo.getProcessInfo')) as { processInfo: { cpuTime: number }[] };
  await cdp.detach();
  return processInfo.reduce((sum, info) => sum + info.cpuTime, 0);
}

async function cpuShare(p: Person): Promise<number> {
  const before = await cpuSeconds(p);
  await p.page.waitForTimeout(SECONDS * 1000);
  return (await cpuSeconds(p)) - before;
}

test('the CPU one tab of a four-person call uses, recording and not', async () => {
  test.setTimeout(240_000);
  const room = `cost-${Date.now()}`;
  const colours: [number, number, number][] = [[220, 40, 40], [40, 200, 60], [40, 70, 220], [230, 220, 40]];
  const people: Person[] = [];
  for (const [i, name] of ['Alice', 'Bob', 'Carol', 'Dave'].entries()) {
    const p = await person({ colour: colours[i] });
    await p.openLink(`${shared().url}/call/${name}/${room}`);
    people.push(p);
  }
  const alice = people[0];
  await expect(alice.status()).toHaveText('Connected with Bob, Carol and Dave.', { timeout: 60_000 });
  await alice.page.waitForTimeout(5_000);
  const idle = await cpuShare(alice);
  await alice.page.getByRole('toolbar', { name: 'Call controls' }).getByRole('button', { name: 'Record', exact: true }).click();
  await alice.page.waitForTimeout(2_000);
  const recording = await cpuShare(alice);
  const bytes = await alice.page.locator('.recording-time').textContent();
  const figures = {
    seconds: SECONDS,
    cpu_percent_not_recording: (100 * idle) / SECONDS,
    cpu_percent_recording: (100 * recording) / SECONDS,
    recorded_so_far: bytes,
  };
  console.log(JSON.stringify(figures));
  const out = path.join(__dirname, '..', 'test-results', 'recording-cost.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(figures, null, 2));
});
