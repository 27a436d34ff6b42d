import { test, expect } from '@playwright/test';
import { chmod, copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Server, connectedPair, expectFramesGrowing, peopleForEachTest, repo } from './support';

// The one file of `make dist` (`make test` packs the debug build: target/dist/debug/tandem):
// the server with the whole site inside it, copied alone into an empty folder.
const packed = process.env.TANDEM_DIST_BIN ?? path.join(repo, 'target', 'dist', 'debug', 'tandem');
const person = peopleForEachTest();

/** Every file under /pkg/ a page names (scripts, styles, preloaded chunks). */
async function filesNamedBy(url: string): Promise<string[]> {
  const page = await fetch(url);
  expect(page.status, url).toBe(200);
  return [...new Set((await page.text()).match(/\/pkg\/[\w.-]+/g) ?? [])];
}

test('the one file, copied alone into an empty folder, serves the whole app and a call connects through it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-one-file-'));
  const bin = path.join(dir, 'tandem');
  await copyFile(packed, bin);
  await chmod(bin, 0o755);
  const server = await Server.start({ bin, cwd: dir, packed: true });
  try {
    // Nothing was written beside it: the site it carries is unpacked elsewhere.
    expect(await readdir(dir)).toEqual(['tandem']);

    const home = await filesNamedBy(`${server.url}/`);
    const call = await filesNamedBy(`${server.url}/call/Alice/one-file-room`);
    const files = [...new Set([...home, ...call])];
    expect(files.some((f) => /^\/pkg\/tandem\.[\w-]+\.wasm$/.test(f)), `the app's wasm in ${files}`).toBe(true);
    expect(files.some((f) => f.endsWith('.css')), 'the styles').toBe(true);
    expect(files.some((f) => /split_/.test(f)), `the call screen's chunk preloaded by a call link: ${call}`).toBe(true);
    // Each is there, and brotli-compressed when asked (the copies are made in the background
    // just after start, so each is asked for until it is).
    for (const file of files) {
      let encoding: string | null = null;
      for (let i = 0; i < 600 && encoding !== 'br'; i++) {
        const r = await fetch(server.url + file, { headers: { 'accept-encoding': 'br' } });
        expect(r.status, file).toBe(200);
        await r.arrayBuffer();
        encoding = r.headers.get('content-encoding');
        if (encoding !== 'br') await new Promise((ok) => setTimeout(ok, 50));
      }
      expect(encoding, `${file} brotli-compressed`).toBe('br');
    }

    // And a call: every file the pages ask for is served, and video arrives both ways.
    const failed: string[] = [];
    const [alice, bob] = await connectedPair(server.url, async (opts) => {
      const p = await person(opts);
      p.page.on('response', (r) => {
        if (r.url().startsWith(server.url) && r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      return p;
    });
    await expectFramesGrowing(alice);
    await expectFramesGrowing(bob);
    expect(failed).toEqual([]);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
