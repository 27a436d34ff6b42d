import { test, expect } from '@playwright/test';
import { Server, freePort, peopleForEachTest, relayedPair, type Person } from './support';

// The TURN relay built into Tandem (`turn_listen`). Both browsers are told
// `iceTransportPolicy: "relay"`, so media can only flow through it. Every peer here is on
// 127.0.0.1, which the relay refuses unless `turn_allow_private_peers` is set.
const person = peopleForEachTest();

/** Tandem with its relay on a free port; `extra` may name that port. */
async function tandem(extra: (port: number) => string[] = () => []): Promise<{ server: Server; port: number }> {
  const port = await freePort();
  const server = await Server.start({
    args: [
      '--turn-listen', `127.0.0.1:${port}`,
      '--turn-allow-private-peers',
      '--turn-relay-ports', '45000-47999',
      '--ice-transport-policy', 'relay',
      ...extra(port),
    ],
  });
  return { server, port };
}

async function metric(server: Server, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

/** What the stats panel says of the path in use. */
async function pathShown(p: Person): Promise<string> {
  await p.page.getByRole('button', { name: 'Stats', exact: true }).click();
  const path = p.page.getByRole('region', { name: 'Call statistics' }).locator('dt:has-text("Path") + dd');
  await expect(path).toHaveText(/relayed/);
  return (await path.textContent()) ?? '';
}

test('with only the built-in relay, a relay-only call connects through it and video arrives', async () => {
  const { server } = await tandem();
  try {
    const [alice, bob] = await relayedPair(server.url, person);
    for (const p of [alice, bob]) {
      // Told both of its URLs, a browser takes whichever pair checks out first: under
      // load that is at times the one over TCP (seen once in a full run).
      expect(await pathShown(p)).toMatch(/^relayed by TURN \(UDP, (UDP|TCP) to the relay\)$/);
    }
    expect(await metric(server, 'tandem_turn_allocations')).toBeGreaterThanOrEqual(2);
    await expect.poll(() => metric(server, 'tandem_turn_relayed_bytes_total')).toBeGreaterThan(100_000);
  } finally {
    await server.stop();
  }
});

test('with only the relay\'s UDP URL, the call connects through TURN over UDP', async () => {
  const { server } = await tandem((port) => ['--turn-url', `turn:127.0.0.1:${port}?transport=udp`]);
  try {
    const [alice, bob] = await relayedPair(server.url, person);
    for (const p of [alice, bob]) {
      expect(await pathShown(p)).toBe('relayed by TURN (UDP, UDP to the relay)');
    }
  } finally {
    await server.stop();
  }
});

test('with only the relay\'s TCP URL, the call connects through TURN over TCP', async () => {
  // turn_urls names what browsers are told: here the relay's TCP URL alone.
  const { server } = await tandem((port) => ['--turn-url', `turn:127.0.0.1:${port}?transport=tcp`]);
  try {
    const [alice, bob] = await relayedPair(server.url, person);
    for (const p of [alice, bob]) {
      expect(await pathShown(p)).toBe('relayed by TURN (UDP, TCP to the relay)');
    }
  } finally {
    await server.stop();
  }
});
