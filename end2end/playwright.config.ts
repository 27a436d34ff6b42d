import { defineConfig } from '@playwright/test';

// Browsers are launched by the tests themselves (tests/support.ts): each person in a call
// gets a browser process of their own, as two people on two machines would.
export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  // Two cores: one call (two or three browsers) at a time keeps the media timely.
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: './test-results',
  // Measurements are not tests: `make test` runs `calls` (on the debug build) and `budget`
  // (what a page downloads, on the release build); `make bench-client` runs `bench`.
  projects: [
    { name: 'calls', testIgnore: /(time-to-media|recording-cost|budget)\.spec\.ts/ },
    { name: 'budget', testMatch: /budget\.spec\.ts/ },
    { name: 'bench', testMatch: /(time-to-media|recording-cost)\.spec\.ts/ },
  ],
});
