import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { expect } from '@playwright/test';

// A person in Firefox: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi
// (Playwright drives only its own patched Firefox, which cannot be downloaded here). The
// preferences are ../shared/TESTING.md's: a synthetic camera and microphone that need no
// prompt, ICE on loopback with real host addresses, and sound without a click.
const PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.autoplay.default': 0,
};

/** Polls `read` until `check` holds, or fails after `timeout` ms saying what it last saw. */
export async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeout = 20_000): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (check(last)) return last;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class FirefoxPerson {
  /** Every panic of the app on this page; firefox.spec fails the test with them. */
  readonly panics: string[] = [];

  private constructor(readonly browser: Browser, readonly page: Page) {}

  static async launch(): Promise<FirefoxPerson> {
    const browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
      headless: true,
      extraPrefsFirefox: PREFS,
    });
    const page = await browser.newPage();
    // Every peer connection the app makes, as the Chromium people record them.
    await page.evaluateOnNewDocument(() => {
      const w = window as any;
      const Original = window.RTCPeerConnection;
      w.__pcs = [];
      class Recorded extends Original {
        constructor(config?: RTCConfiguration) {
          super(config);
          w.__pcs.push(this);
        }
      }
      (window as any).RTCPeerConnection = Recorded;
    });
    page.on('pageerror', (e) => console.error(`[firefox page error] ${e instanceof Error ? e.message : e}`));
    const fox = new FirefoxPerson(browser, page);
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`[firefox console] ${m.text()}`);
      if (m.text().includes('panicked at')) fox.panics.push(m.text().split('\n').slice(0, 2).join(' '));
    });
    return fox;
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => {});
  }

  /** Opens the home page and joins `room` through the form, as a person would. */
  async joinThroughForm(base: string, name: string, room: string): Promise<void> {
    await this.page.goto(`${base}/`);
    await this.page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', { timeout: 30_000 });
    await this.page.locator('#name').fill(name);
    await this.page.locator('#room').fill(room);
    await this.page.locator('button[type=submit]').click();
    await this.page.waitForFunction((path: string) => location.pathname === path, { timeout: 15_000 }, `/call/${encodeURIComponent(name)}/${room}`);
  }

  /** Holds back the app's wasm (every `/pkg/*.wasm` request) until the returned function
   * is called, as `holdTheApp` does for Chromium: the page as it is on a slow link. */
  async holdTheApp(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await this.page.setRequestInterception(true);
    this.page.on('request', (request) => {
      const wasm = /\/pkg\/.*\.wasm$/.test(new URL(request.url()).pathname);
      // A page gone by then leaves its request nowhere to go.
      void (wasm ? released : Promise.resolve()).then(() => request.continue().catch(() => {}));
    });
    return release;
  }

  text(selector: string): Promise<string> {
    return this.page.$eval(selector, (e) => e.textContent ?? '');
  }

  /** Waits for the element to read `expected` (exactly, or matching). */
  async expectText(selector: string, expected: string | RegExp, timeout = 20_000): Promise<void> {
    await until(`${selector} text`, () => this.text(selector).catch(() => ''), (t) =>
      typeof expected === 'string' ? t.trim() === expected : expected.test(t), timeout);
  }

  status(): Promise<string> {
    return this.text('[role=status]');
  }

  /** Runs `fn` on the page's latest RTCPeerConnection. */
  pc<T>(fn: string): Promise<T> {
    return this.page.evaluate(`(${fn})(window.__pcs[window.__pcs.length - 1])`) as Promise<T>;
  }

  /** The remote videos' sizes and playing times, by tile. */
  remoteVideos(): Promise<{ width: number; time: number }[]> {
    return this.page.$$eval('.tile.remote video', (videos) =>
      (videos as HTMLVideoElement[]).map((v) => ({ width: v.videoWidth, time: v.currentTime })));
  }

  /** Asserts that every remote video has real frames and keeps playing. */
  async expectRemoteVideosFlowing(count: number): Promise<void> {
    const first = await until('remote videos with frames', () => this.remoteVideos(), (vs) => vs.length === count && vs.every((v) => v.width > 0));
    await until('remote videos playing on', () => this.remoteVideos(), (vs) => vs.every((v, i) => v.time > first[i].time + 0.5), 10_000);
  }

  /** The average colour of the first remote video, read through a canvas. */
  remoteColour(): Promise<[number, number, number]> {
    return this.page.$eval('.tile.remote video', (v) => {
      const video = v as HTMLVideoElement;
      const canvas = document.createElement('canvas');
      [canvas.width, canvas.height] = [32, 24];
      const g = canvas.getContext('2d')!;
      g.drawImage(video, 0, 0, 32, 24);
      const data = g.getImageData(0, 0, 32, 24).data;
      const sum = [0, 0, 0];
      for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
      const n = data.length / 4;
      return sum.map((s) => Math.round(s / n)) as [number, number, number];
    });
  }

  async click(selector: string): Promise<void> {
    await this.page.locator(selector).click();
  }

  async sendChat(text: string): Promise<void> {
    await this.page.locator('#chat-message').fill(text);
    await this.page.keyboard.press('Enter');
  }

  lastChat(): Promise<string> {
    return this.page.$$eval('.chat-lines li .text', (lines) => lines.at(-1)?.textContent ?? '');
  }
}

/** Asserts that a colour is within `tolerance` of `expected`, channel by channel. */
export function expectColour(actual: [number, number, number], expected: [number, number, number], tolerance = 30): void {
  for (let c = 0; c < 3; c++) expect(Math.abs(actual[c] - expected[c]), `${actual} near ${expected}`).toBeLessThanOrEqual(tolerance);
}
