import { chromium, expect, type Browser, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..', '..');

/** A Tandem server on a free loopback port, started fresh for one test file. */
export class Server {
  private constructor(private proc: ChildProcess, readonly url: string) {}

  static async start(): Promise<Server> {
    const bin = process.env.TANDEM_BIN ?? path.join(repo, 'target', 'debug', 'tandem');
    const proc = spawn(bin, ['--listen', '127.0.0.1:0'], {
      cwd: repo,
      env: { ...process.env, LEPTOS_SITE_ROOT: path.join(repo, 'target', 'site'), RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 15_000);
      proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
      proc.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = out.match(/listening on (http:\/\/\S+)/);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    return new Server(proc, url);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGINT');
      await exited;
    }
  }
}

/** Flags that make a real call work headless with no traffic beyond this machine. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1,EXCLUDE localhost',
];

export interface PersonOptions {
  /** A synthetic camera and microphone (default). Without them the browser has no devices. */
  fakeDevices?: boolean;
  /** Say yes to the camera/microphone prompt (default). Otherwise the prompt is refused. */
  allowMedia?: boolean;
}

/** One person: a browser process of their own with one page. */
export class Person {
  private constructor(readonly browser: Browser, readonly page: Page) {}

  static async launch(opts: PersonOptions = {}): Promise<Person> {
    const args = [...CHROMIUM_ARGS];
    if (opts.fakeDevices ?? true) args.push('--use-fake-device-for-media-stream');
    // Grants camera and microphone without a prompt; headless Chromium refuses otherwise.
    if (opts.allowMedia ?? true) args.push('--use-fake-ui-for-media-stream');
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args,
    });
    const page = await browser.newPage();
    // Test-side bookkeeping: remember every local track the app opens, so a test can
    // check that hanging up or leaving really turns the camera off.
    await page.addInitScript(() => {
      const w = window as any;
      w.__localTracks = [];
      const md = navigator.mediaDevices;
      if (!md) return;
      const open = md.getUserMedia.bind(md);
      md.getUserMedia = async (c?: MediaStreamConstraints) => {
        const stream = await open(c);
        w.__localTracks.push(...stream.getTracks());
        return stream;
      };
    });
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`[console] ${m.text()}`);
    });
    return new Person(browser, page);
  }

  async close(): Promise<void> {
    await this.browser.close();
  }

  /** Opens the home page and joins `room` through the form, as a person would. */
  async joinThroughForm(base: string, name: string, room: string): Promise<void> {
    await this.page.goto(base + '/');
    await waitForHydration(this.page);
    await this.page.getByLabel('Your name').fill(name);
    await this.page.getByLabel('Room').fill(room);
    await this.page.getByRole('button', { name: 'Join' }).click();
    await expect(this.page).toHaveURL(new RegExp(`/call/${encodeURIComponent(name)}/${room}$`));
  }

  /** Local camera/microphone tracks still live (the camera light is on). */
  liveLocalTracks(): Promise<number> {
    return this.page.evaluate(
      () => (window as any).__localTracks.filter((t: MediaStreamTrack) => t.readyState === 'live').length,
    );
  }

  status() {
    return this.page.getByRole('status');
  }

  remoteVideo() {
    return this.page.locator('.tile.remote video');
  }
}

/** The WASM client has taken over the server-rendered page. */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', null, {
    timeout: 30_000,
  });
}

/** Asserts that the remote video has real frames and keeps playing. */
export async function expectRemoteVideoFlowing(person: Person): Promise<void> {
  const video = person.remoteVideo();
  await expect
    .poll(() => video.evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 20_000 })
    .toBeGreaterThan(0);
  const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await expect
    .poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 10_000 })
    .toBeGreaterThan(t0 + 0.5);
}
