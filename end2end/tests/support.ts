import { chromium, expect, test, type Browser, type BrowserServer, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const repo = path.resolve(__dirname, '..', '..');

export interface ServerOptions {
  /** Listen on this loopback port (to restart a server where clients expect it). */
  port?: number;
  /** Extra command-line flags, e.g. ['--resume-grace', '2s']. */
  args?: string[];
  /** Another binary than the one under test (TANDEM_BIN), started in `cwd`. */
  bin?: string;
  cwd?: string;
  /** Serve the site the binary carries (`make dist`): LEPTOS_SITE_ROOT is left unset. */
  packed?: boolean;
}

/** A Tandem server on a free loopback port, started fresh for one test file. */
export class Server {
  private constructor(private proc: ChildProcess, readonly url: string) {}

  static async start(opts: ServerOptions = {}): Promise<Server> {
    const bin = opts.bin ?? process.env.TANDEM_BIN ?? path.join(repo, 'target', 'debug', 'tandem');
    const listen = `127.0.0.1:${opts.port ?? 0}`;
    const env: NodeJS.ProcessEnv = { TANDEM_LOG_LEVEL: 'warn', ...process.env };
    if (opts.packed) delete env.LEPTOS_SITE_ROOT;
    else env.LEPTOS_SITE_ROOT = path.join(repo, 'target', 'site');
    const proc = spawn(bin, ['--listen', listen, ...(opts.args ?? [])], {
      cwd: opts.cwd ?? repo,
      env,
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

  /** Resolves once the server sends the app's wasm brotli-compressed: it writes the
   * compressed copies in the background just after starting. */
  async compressed(): Promise<void> {
    const page = await (await fetch(`${this.url}/`)).text();
    // Every file the home page names (its own, and the call screen's it fetches later),
    // each served brotli once the server has written its copy. Files under a KiB are
    // served as they are.
    const files = [...new Set(page.match(/\/pkg\/[\w.-]+\.(?:wasm|js|css)/g) ?? [])];
    if (!files.some((f) => /\/tandem\.[\w-]+\.wasm$/.test(f))) throw new Error('no wasm named in the page');
    for (const file of files) {
      const plain = await fetch(this.url + file, { headers: { 'accept-encoding': 'identity' } });
      if ((await plain.arrayBuffer()).byteLength < 1024) continue;
      let served = false;
      for (let i = 0; i < 600 && !served; i++) {
        const r = await fetch(this.url + file, { headers: { 'accept-encoding': 'br' } });
        await r.arrayBuffer();
        served = r.headers.get('content-encoding') === 'br';
        if (!served) await new Promise((ok) => setTimeout(ok, 50));
      }
      if (!served) throw new Error(`${file} was never served compressed`);
    }
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Freezes the server (SIGSTOP): its sockets stay open but nothing answers. */
  pause(): void {
    this.proc.kill('SIGSTOP');
  }

  resume(): void {
    this.proc.kill('SIGCONT');
  }

  /** Ends the server like a crash would: no goodbye to anyone. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill(signal);
      await exited;
    }
  }
}

/** A page of `end2end/fixtures/` served on a loopback origin of its own (Chromium lets a
 * local page open a socket to a local server); give Tandem `--allowed-origin origin`. */
export async function serveFixture(file: string): Promise<{ origin: string; close: () => void }> {
  const page = await readFile(path.join(__dirname, '..', 'fixtures', file), 'utf8');
  const http = createHttpServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  return { origin, close: () => http.close() };
}

/** A free loopback TCP port (coturn listens on TCP and UDP alike). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `command` and resolves once its output matches `ready`; `out` returns what it
 * printed so far. */
async function spawnReady(
  what: string,
  command: string,
  args: string[],
  ready: RegExp,
): Promise<{ proc: ChildProcess; out: () => string }> {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out}`)), 15_000);
    proc.on('exit', (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      } else setTimeout(check, 100);
    };
    check();
  });
  return { proc, out: () => out };
}

async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }
}

/** Debian's redis-server on a free loopback port, keeping nothing on disk. */
export class Redis {
  private constructor(private proc: ChildProcess, readonly port: number) {}

  /** On `port` (to bring Redis back where servers expect it), else a free one. */
  static async start(port?: number): Promise<Redis> {
    port ??= await freePort();
    const { proc } = await spawnReady('redis-server', 'redis-server', [
      '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no',
    ], /Ready to accept connections/);
    return new Redis(proc, port);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  stop(): Promise<void> {
    return stopProcess(this.proc, 'SIGKILL');
  }
}

/** Debian's nginx running the README's load-balancer configuration (the ```nginx block
 * under "Several servers"), pointed at `upstreams` instead of ports 3001 and 3002. */
export class Nginx {
  private constructor(private proc: ChildProcess, readonly url: string) {}

  static async start(upstreams: string[]): Promise<Nginx> {
    const readme = await readFile(path.join(repo, 'README.md'), 'utf8');
    const block = readme.match(/```nginx\n([\s\S]*?)```/)?.[1];
    if (!block) throw new Error('README.md has no nginx example');
    const port = await freePort();
    let conf = block
      .replace('server 127.0.0.1:3001', `server ${new URL(upstreams[0]).host}`)
      .replace('server 127.0.0.1:3002', `server ${new URL(upstreams[1]).host}`)
      .replace('listen 80;', `listen 127.0.0.1:${port};`);
    if (conf === block) throw new Error('the README example changed shape');
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-nginx-'));
    conf = [
      `pid ${dir}/nginx.pid;`,
      'error_log stderr notice;',
      'events {}',
      'http {',
      '  access_log off;',
      // Large responses stream through memory: no temp files for the worker to write.
      '  proxy_max_temp_file_size 0;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      conf,
      '}',
    ].join('\n');
    await writeFile(path.join(dir, 'nginx.conf'), conf);
    const { proc } = await spawnReady('nginx', '/usr/sbin/nginx', [
      '-p', dir, '-e', 'stderr', '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;',
    ], /start worker process/);
    return new Nginx(proc, `http://127.0.0.1:${port}`);
  }

  stop(): Promise<void> {
    return stopProcess(this.proc);
  }
}

/** A real TURN server (Debian's coturn) on loopback, checking credentials the way
 * Tandem's `turn_secret` makes them (`use-auth-secret`). */
export class Coturn {
  private constructor(private proc: ChildProcess, readonly port: number, private log: () => string) {}

  static async start(secret: string): Promise<Coturn> {
    const port = await freePort();
    const relayPorts = 40000 + Math.floor(Math.random() * 20000);
    const { proc, out } = await spawnReady('coturn', 'turnserver', [
      '-n', // no configuration file: everything is here
      '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
      `--min-port=${relayPorts}`, `--max-port=${relayPorts + 200}`,
      '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=tandem.test',
      // Both browsers are on this machine: relaying to 127.0.0.1 must be allowed.
      '--allow-loopback-peers',
      '--no-tls', '--no-dtls', '--no-cli', '--fingerprint',
      '--verbose', '--log-file=stdout', '--simple-log', `--pidfile=/tmp/coturn-${port}.pid`,
    ], /Total General servers/);
    return new Coturn(proc, port, out);
  }

  get url(): string {
    return `turn:127.0.0.1:${this.port}?transport=udp`;
  }

  /** What coturn logged so far. */
  logs(): string {
    return this.log();
  }

  stop(): Promise<void> {
    return stopProcess(this.proc);
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
  /** Run the browser as a process the test can kill outright. */
  killable?: boolean;
  /** How many synthetic cameras (default 1). */
  cameras?: number;
  /** A camera that shows one solid colour (320×240 at 10 fps: light on two cores). */
  colour?: Rgb;
  /** A microphone that talks without a pause (a tone swelling like syllables), in place
   * of Chromium's fake one, which beeps twice a second. */
  talking?: boolean;
  /** Sound may start only from a click (each time: Chromium's strictest policy). */
  autoplayNeedsClick?: boolean;
  /** Sound may start once the page has had a click (Chrome's own policy for a site). */
  autoplayAfterAClick?: boolean;
  /** The browser's language (`navigator.language`, Accept-Language), e.g. `de-DE`. */
  locale?: string;
}

export type Rgb = [number, number, number];

/** A y4m file of a few solid frames of `rgb`, which Chromium's fake camera loops. */
export function solidColourVideo(rgb: Rgb): string {
  const [r, g, b] = rgb;
  // BT.601, studio range: what the browser turns back into the same colour.
  const y = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
  const u = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
  const v = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
  const [w, h] = [320, 240];
  const frame = Buffer.concat([
    Buffer.from('FRAME\n'),
    Buffer.alloc(w * h, y),
    Buffer.alloc((w * h) / 4, u),
    Buffer.alloc((w * h) / 4, v),
  ]);
  const file = path.join(tmpdir(), `tandem-${r}-${g}-${b}.y4m`);
  writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`), frame, frame]));
  return file;
}

/** A WAV file of 4 s of a 220 Hz tone whose loudness swells four times a second, never
 * silent: to a microphone's level meter, someone talking. */
export function talkingAudio(): string {
  const rate = 48_000;
  const samples = rate * 4;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const t = i / rate;
    const loudness = 0.35 + 0.25 * Math.sin(2 * Math.PI * 4 * t);
    data.writeInt16LE(Math.round(32767 * loudness * Math.sin(2 * Math.PI * 220 * t)), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  const file = path.join(tmpdir(), 'tandem-talking.wav');
  writeFileSync(file, Buffer.concat([header, data]));
  return file;
}

/** One person: a browser process of their own with one page. */
export class Person {
  /** Every panic of the app on this person's page: the test fails with them (see
   * `peopleForEachTest`), whatever it was checking. */
  readonly panics: string[] = [];

  private constructor(
    readonly browser: Browser,
    readonly page: Page,
    private server?: BrowserServer,
  ) {}

  static async launch(opts: PersonOptions = {}): Promise<Person> {
    const args = [...CHROMIUM_ARGS];
    if (opts.fakeDevices ?? true) {
      const cameras = opts.cameras ?? 1;
      args.push(`--use-fake-device-for-media-stream${cameras > 1 ? `=device-count=${cameras}` : ''}`);
      if (opts.colour) args.push(`--use-file-for-fake-video-capture=${solidColourVideo(opts.colour)}`);
      if (opts.talking) args.push(`--use-file-for-fake-audio-capture=${talkingAudio()}`);
    }
    if (opts.autoplayNeedsClick) args.push('--autoplay-policy=user-gesture-required');
    if (opts.autoplayAfterAClick) args.push('--autoplay-policy=document-user-activation-required');
    // Grants camera and microphone without a prompt; headless Chromium refuses otherwise.
    if (opts.allowMedia ?? true) args.push('--use-fake-ui-for-media-stream');
    const launch = { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args };
    let server: BrowserServer | undefined;
    let browser: Browser;
    if (opts.killable) {
      server = await chromium.launchServer(launch);
      browser = await chromium.connect(server.wsEndpoint());
    } else {
      browser = await chromium.launch(launch);
    }
    const page = await browser.newPage(opts.locale ? { locale: opts.locale } : {});
    // Test-side bookkeeping: remember every local track the app opens, so a test can
    // check that hanging up or leaving really turns the camera off.
    await page.addInitScript(() => {
      const w = window as any;
      // Every peer connection the app makes, and the signaling state each remote offer
      // found it in ('have-local-offer' means two offers collided).
      const Original = window.RTCPeerConnection;
      w.__pcs = [];
      w.__remoteOfferStates = [];
      w.__iceErrors = [];
      class Recorded extends Original {
        constructor(config?: RTCConfiguration) {
          super(config);
          w.__pcs.push(this);
          // What STUN/TURN servers answered when asked for candidates (401: bad credentials).
          this.addEventListener('icecandidateerror', (e: any) => w.__iceErrors.push({ code: e.errorCode, url: e.url }));
        }
        setRemoteDescription(description: RTCSessionDescriptionInit) {
          if (description?.type === 'offer') w.__remoteOfferStates.push(this.signalingState);
          return super.setRemoteDescription(description);
        }
      }
      (window as any).RTCPeerConnection = Recorded;
      // Every WebSocket the app opens, to check that none is left open.
      const OriginalSocket = window.WebSocket;
      w.__sockets = [];
      class RecordedSocket extends OriginalSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          w.__sockets.push(this);
        }
      }
      (window as any).WebSocket = RecordedSocket;
      // A gate on outgoing offers, so a test can make two offers cross for certain.
      const send = WebSocket.prototype.send;
      w.__heldOffers = [];
      WebSocket.prototype.send = function (data: any) {
        if (w.__holdOffers && typeof data === 'string' && data.includes('"kind":"offer"')) {
          w.__heldOffers.push([this, data]);
          return;
        }
        return send.call(this, data);
      };
      w.__releaseOffers = () => {
        w.__holdOffers = false;
        for (const [socket, data] of w.__heldOffers.splice(0)) send.call(socket, data);
      };
      // A gate on file transfers: once __pauseFilesAfter frames have gone out on a file
      // channel, the rest of that channel is held back (in order), so a test can act while
      // a transfer is surely running; __releaseFiles() sends what was held and opens it.
      const channelSend = RTCDataChannel.prototype.send as (this: RTCDataChannel, data: any) => void;
      const framesSent = new WeakMap<RTCDataChannel, number>();
      w.__heldFileFrames = [];
      RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: any) {
        if (this.label.startsWith('file:') && w.__pauseFilesAfter !== undefined) {
          const sent = framesSent.get(this) ?? 0;
          if (sent >= w.__pauseFilesAfter) {
            w.__heldFileFrames.push([this, data]);
            return;
          }
          framesSent.set(this, sent + 1);
        }
        return channelSend.call(this, data);
      } as any;
      w.__releaseFiles = () => {
        w.__pauseFilesAfter = undefined;
        for (const [channel, data] of w.__heldFileFrames.splice(0)) {
          if (channel.readyState === 'open') channelSend.call(channel, data);
        }
      };
      // Every text the status line showed.
      w.__statusHistory = [];
      new MutationObserver(() => {
        const text = document.querySelector('[role=status]')?.textContent ?? '';
        if (text && w.__statusHistory.at(-1) !== text) w.__statusHistory.push(text);
      }).observe(document, { subtree: true, childList: true, characterData: true });
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
    const person = new Person(browser, page, server);
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`[console] ${m.text()}`);
      if (m.text().includes('panicked at')) person.panics.push(m.text().split('\n').slice(0, 2).join(' '));
    });
    return person;
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => {});
    await this.server?.close().catch(() => {});
  }

  /** Kills the browser process outright, as a crash or a pulled plug would. */
  kill(): void {
    if (!this.server) throw new Error('launch with { killable: true } to kill');
    this.server.process().kill('SIGKILL');
  }

  /** Runs `fn` on the page's (latest) RTCPeerConnection. */
  pc<T>(fn: (pc: RTCPeerConnection) => T | Promise<T>): Promise<T> {
    return this.page.evaluate(
      `(${fn.toString()})(window.__pcs[window.__pcs.length - 1])`,
    ) as Promise<T>;
  }

  /** Video frames decoded from the other side so far. */
  framesDecoded(): Promise<number> {
    return this.pc(async (pc) => {
      let frames = 0;
      (await pc.getStats()).forEach((r: any) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded ?? 0;
      });
      return frames;
    });
  }

  /** The candidate types ('host', 'srflx', 'relay') of the pair media flows over. */
  selectedPath(): Promise<{ local?: string; remote?: string }> {
    return this.pc(async (pc) => {
      const stats = await pc.getStats();
      let pair: any;
      stats.forEach((r: any) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
      });
      // A remote candidate first met in a connectivity check, before its description
      // came, is `prflx`: the same address signaled says what it is.
      let remote: any = pair && stats.get(pair.remoteCandidateId);
      if (remote?.candidateType === 'prflx') {
        stats.forEach((r: any) => {
          if (r.type === 'remote-candidate' && r.candidateType !== 'prflx' && r.address === remote.address && r.port === remote.port) remote = r;
        });
      }
      return { local: pair && stats.get(pair.localCandidateId)?.candidateType, remote: remote?.candidateType };
    });
  }

  /** The types of the candidates this side gathered ('host', 'srflx', 'relay'). */
  localCandidateTypes(): Promise<string[]> {
    return this.pc(async (pc) => {
      const types: string[] = [];
      (await pc.getStats()).forEach((r: any) => {
        if (r.type === 'local-candidate') types.push(r.candidateType);
      });
      return types;
    });
  }

  /** Errors reported by STUN/TURN servers while gathering candidates. */
  iceErrors(): Promise<{ code: number; url: string }[]> {
    return this.page.evaluate(() => (window as any).__iceErrors);
  }

  /** WebSockets not yet closed. */
  openSockets(): Promise<number> {
    return this.page.evaluate(
      () => (window as any).__sockets.filter((s: WebSocket) => s.readyState !== WebSocket.CLOSED).length,
    );
  }

  statusHistory(): Promise<string[]> {
    return this.page.evaluate(() => (window as any).__statusHistory);
  }

  /**
   * Opens a call link as one pasted into the address bar: it shows the join card, and
   * Join now is pressed as soon as it is there (before the app has loaded, if it has not).
   */
  async openLink(url: string): Promise<void> {
    await this.page.goto(url);
    await this.page.getByRole('button', { name: 'Join now' }).click();
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

/** Records, from navigation start, when the page's peer connection connects and decodes
 * its first remote video frame. */
export async function watchMedia(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as any;
    // The call has started for the person when a remote picture plays: what the page
    // fetches from then on (Tandem's deferred panels) is not counted.
    document.addEventListener('playing', (e) => {
      const stream = (e.target as HTMLVideoElement).srcObject as MediaStream | null;
      const remote = stream?.getVideoTracks().some((t) => (w.__pcs ?? []).some((pc: RTCPeerConnection) => pc.getReceivers().some((r) => r.track === t)));
      if (remote && w.__playingAt === undefined) w.__playingAt = performance.now();
    }, true);
    // The app marks the page live (`data-hydrated`) once hydration is done.
    new MutationObserver(() => {
      if (w.__hydratedAt === undefined && document.documentElement.hasAttribute('data-hydrated')) w.__hydratedAt = performance.now();
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
    // When the call screen is on the page (Tandem only).
    new MutationObserver(() => {
      if (w.__callShownAt === undefined && document.querySelector('section.call')) w.__callShownAt = performance.now();
    }).observe(document, { childList: true, subtree: true });
    const timer = setInterval(async () => {
      const pc: RTCPeerConnection | undefined = w.__pcs?.[w.__pcs.length - 1];
      if (!pc) return;
      if (w.__connectedAt === undefined && pc.connectionState === 'connected') w.__connectedAt = performance.now();
      if (w.__firstFrameAt === undefined) {
        const stats = await pc.getStats();
        // The state may have changed while the stats were gathered.
        if (w.__connectedAt === undefined && pc.connectionState === 'connected') w.__connectedAt = performance.now();
        stats.forEach((r: any) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0 && w.__firstFrameAt === undefined) {
            w.__firstFrameAt = performance.now();
          }
        });
      }
      if (w.__connectedAt !== undefined && w.__firstFrameAt !== undefined) clearInterval(timer);
    }, 5);
  });
}

/** The WASM client has taken over the server-rendered page. */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', null, {
    timeout: 30_000,
  });
}

/**
 * Holds the app's wasm back from `page` until the returned function is called: what a
 * person does meanwhile happens before the app has loaded, as on a slow link.
 */
export async function holdTheApp(page: Page): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  await page.route(/\/pkg\/.*\.wasm$/, async (route) => {
    await released;
    // A page gone by then (a form sent natively) leaves its request nowhere to go.
    await route.continue().catch(() => {});
  });
  return release;
}

/** Signaling frames a page sends and receives, parsed, from every socket it opens. */
export function framesOf(page: Page): { sent: any[]; received: any[] } {
  const frames = { sent: [] as any[], received: [] as any[] };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => frames.sent.push(JSON.parse(String(f.payload))));
    ws.on('framereceived', (f) => frames.received.push(JSON.parse(String(f.payload))));
  });
  return frames;
}

/** The frames of one message type. */
export const ofType = (frames: any[], type: string) => frames.filter((f) => f.type === type);

/** A figure from the server's /metrics: seats held, joins so far. */
export async function metric(s: Server, name: 'tandem_seats' | 'tandem_joins_total'): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1]);
}

/** Seats the server holds, from its /metrics. */
export const seats = (s: Server) => metric(s, 'tandem_seats');

/** Asserts that frames from the other side keep being decoded. */
export async function expectFramesGrowing(person: Person): Promise<void> {
  const before = await person.framesDecoded();
  await expect.poll(() => person.framesDecoded(), { timeout: 10_000 }).toBeGreaterThan(before + 5);
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

/** One server for the whole spec file, started before its first test. */
export function sharedServer(opts: ServerOptions = {}): () => Server {
  let server: Server | undefined;
  test.beforeAll(async () => {
    server = await Server.start(opts);
  });
  test.afterAll(async () => {
    await server?.stop();
  });
  return () => server!;
}

/** Launches people for a test and closes their browsers after it. */
export function peopleForEachTest(): (opts?: PersonOptions) => Promise<Person> {
  const people: Person[] = [];
  test.afterEach(async () => {
    const gone = people.splice(0);
    await Promise.all(gone.map((p) => p.close()));
    // A panic is a bug wherever it happens, even in a test about something else.
    expect(gone.flatMap((p) => p.panics), 'the app panicked').toEqual([]);
  });
  return async (opts = {}) => {
    const p = await Person.launch(opts);
    people.push(p);
    return p;
  };
}

/** `from` sends `text` in the chat, and it is the last line `to` sees. */
export async function chat(from: Person, to: Person, text: string): Promise<void> {
  await from.page.getByLabel('Message').fill(text);
  await from.page.getByLabel('Message').press('Enter');
  await expect(to.page.locator('.chat-lines li .text').last()).toHaveText(text);
}

/** Alice and Bob in a fresh room, each in a browser of their own, connected. Bob
 * arrives second (so he is the polite side). */
export async function connectedPair(
  base: string,
  person: (opts?: PersonOptions) => Promise<Person>,
  opts: { alice?: PersonOptions; bob?: PersonOptions } = {},
): Promise<[Person, Person]> {
  const room = `r-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const alice = await person(opts.alice);
  const bob = await person(opts.bob);
  await alice.joinThroughForm(base, 'Alice', room);
  await bob.joinThroughForm(base, 'Bob', room);
  await expect(alice.status()).toHaveText('Connected with Bob.');
  await expect(bob.status()).toHaveText('Connected with Alice.');
  return [alice, bob];
}

/** Alice and Bob in a fresh room of a relay-only server, connected, with video arriving
 * over a pair whose both ends are relay candidates: the media goes through TURN. */
export async function relayedPair(
  base: string,
  person: (opts?: PersonOptions) => Promise<Person>,
): Promise<[Person, Person]> {
  const [alice, bob] = await connectedPair(base, person);
  for (const p of [alice, bob]) {
    await expectFramesGrowing(p);
    expect(await p.selectedPath()).toEqual({ local: 'relay', remote: 'relay' });
    expect(await p.iceErrors()).toEqual([]);
  }
  return [alice, bob];
}
