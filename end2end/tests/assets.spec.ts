import { test, expect } from '@playwright/test';
import { peopleForEachTest, sharedServer, waitForHydration } from './support';

const server = sharedServer();
const person = peopleForEachTest();

/** What the browser recorded about loading the app's wasm on the current page. */
function wasmEntry(page: import('@playwright/test').Page) {
  return page.evaluate(() => {
    const entry = performance
      .getEntriesByType('resource')
      .find((e) => e.name.endsWith('.wasm')) as PerformanceResourceTiming | undefined;
    return entry && {
      name: entry.name,
      transferSize: entry.transferSize,
      encodedBodySize: entry.encodedBodySize,
      decodedBodySize: entry.decodedBodySize,
    };
  });
}

test('the app arrives brotli-compressed and a second visit takes it from the cache', async () => {
  const p = await person();
  const home = await p.page.request.get(`${server().url}/`);
  expect(home.headers()['cache-control']).toBe('no-cache');
  const wasmPath = (await home.text()).match(/\/pkg\/tandem\.[\w-]+\.wasm/)?.[0];
  expect(wasmPath, 'a content-hashed wasm name in the page').toBeTruthy();
  await server().compressed();

  await p.page.goto(`${server().url}/`);
  await waitForHydration(p.page);
  const first = (await wasmEntry(p.page))!;
  expect(first.name).toContain(wasmPath!);
  expect(first.transferSize).toBeGreaterThan(0);
  expect(first.encodedBodySize).toBeLessThan(first.decodedBodySize / 2);

  // The wasm's name changes with its content, so the browser need not even ask again.
  await p.page.goto(`${server().url}/`);
  await waitForHydration(p.page);
  const second = (await wasmEntry(p.page))!;
  expect(second.decodedBodySize).toBe(first.decodedBodySize);
  expect(second.transferSize, 'served from the browser cache').toBe(0);
});
