import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { Server, connectedPair, peopleForEachTest, type Person } from './support';

// Video sized by the real link: the budget is the server's upload_budget until the browser
// shows the link is the limit (a sender held back by bandwidth, loss, a growing round
// trip); then its estimate lowers it, and once the evidence is gone the floor is back
// (src/mesh/budget.rs). The link is throttled for real: an htb class on loopback for the
// UDP packets Alice's connection sends, IPv4 or IPv6 (tc, as root; netem is not in this
// kernel), and
// nothing else.
const person = peopleForEachTest();
let server: Server;
test.beforeAll(async () => {
  server = await Server.start();
});
test.afterAll(async () => {
  unthrottle();
  await server?.stop();
});

function tc(...args: string[]): void {
  execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Every UDP packet from any of loopback ports `ports` goes out, all together, at most
 * at `rate`. */
function throttle(ports: number[], rate: string): void {
  unthrottle();
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '1000');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', rate, 'burst', '4kb');
  // Over IPv4 or IPv6 alike: Chromium prefers ::1 when both are there.
  for (const port of ports) {
    tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
      'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'sport', String(port), '0xffff', 'flowid', '1:20');
    tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ipv6', 'prio', '2', 'u32',
      'match', 'ip6', 'protocol', '17', '0xff', 'match', 'ip6', 'sport', String(port), '0xffff', 'flowid', '1:20');
  }
}

function unthrottle(): void {
  try {
    tc('qdisc', 'del', 'dev', 'lo', 'root');
  } catch {
    // Nothing was there.
  }
}

/** Alice's video sender: its cap and how far it scales the picture down. */
function sender(p: Person): Promise<{ scale: number; maxBitrate?: number }> {
  return p.pc((pc) => {
    const encoding = pc.getSenders().find((s) => s.track?.kind === 'video')?.getParameters().encodings[0];
    return { scale: encoding?.scaleResolutionDownBy ?? 1, maxBitrate: encoding?.maxBitrate };
  });
}

/** The ports of every local UDP candidate of the connection: the pair in use may change
 * (once, in a full run, the throttle on the port of the pair read first never bit). */
function localPorts(p: Person): Promise<number[]> {
  return p.pc(async (pc) => {
    const stats = await pc.getStats();
    const ports = new Set<number>();
    stats.forEach((r: any) => {
      if (r.type === 'local-candidate' && r.protocol === 'udp' && r.port) ports.add(r.port);
    });
    return [...ports];
  });
}

/** The local port of the candidate pair Alice's media goes over. */
function localPort(p: Person): Promise<number> {
  return p.pc(async (pc) => {
    const stats = await pc.getStats();
    let port = 0;
    stats.forEach((r: any) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) {
        port = stats.get(stats.get(r.selectedCandidatePairId).localCandidateId).port;
      }
    });
    return port;
  });
}

test('a sender throttled for real is reduced on the evidence, and back to full size once the throttle is lifted', async () => {
  test.setTimeout(150_000);
  // Alice sends Chromium's moving pattern; Bob a solid colour.
  const [alice] = await connectedPair(server.url, person, { bob: { colour: [40, 90, 220] } });
  const full = { scale: 1, maxBitrate: 2_500_000 };
  await expect.poll(() => sender(alice), { timeout: 20_000 }).toEqual(full);
  const port = await localPort(alice);
  expect(port).toBeGreaterThan(0);
  const ports = await localPorts(alice);
  expect(ports).toContain(port);
  try {
    throttle(ports, '200kbit');
    // The browser's round trip grows from ~0.02 ms to about a second (a queue fills; here
    // it reports no loss and no bandwidth limitation), its estimate falls, and the budget
    // follows it down (at most every 5 s).
    await expect
      .poll(async () => (await sender(alice)).maxBitrate ?? Infinity, { timeout: 45_000 })
      .toBeLessThan(1_000_000);
    console.log(`[measure] throttled to 200 kbit/s: Alice's sender ${JSON.stringify(await sender(alice))}`);
  } finally {
    unthrottle();
  }
  // Lifted: 10 s without evidence, and the floor and full size are back.
  await expect.poll(() => sender(alice), { timeout: 60_000 }).toEqual(full);
});
