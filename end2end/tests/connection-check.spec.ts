import { test, expect } from '@playwright/test';
import { Coturn, Server, freePort, peopleForEachTest, waitForHydration } from './support';

// Check my connection, on the home page and the join card: the browser gathers candidates
// with the server's ICE servers and the page says what they mean.
const person = peopleForEachTest();

async function check(page: import('@playwright/test').Page): Promise<import('@playwright/test').Locator> {
  await page.getByRole('button', { name: 'Check my connection' }).click();
  const result = page.locator('.connection-check [role=status]');
  await expect(result.locator('.check-findings')).toBeVisible({ timeout: 15_000 });
  return result;
}

test('with the built-in relay running, the check says calls can go through it and how far it is', async () => {
  const port = await freePort();
  const server = await Server.start({
    args: ['--turn-listen', `127.0.0.1:${port}`, '--turn-allow-private-peers'],
  });
  try {
    const p = await person();
    await p.page.goto(`${server.url}/`);
    await waitForHydration(p.page);
    const result = await check(p.page);
    await expect(result.locator('.check-relay')).toHaveText(
      /^Calls can go through this server's relay \(about \d+ ms away\)\.$/,
    );
    // The relay answers STUN too, and this machine's own addresses are reflected back.
    await expect(result.locator('.check-direct')).toHaveText('Your network allows direct calls.');
    await expect(result.locator('.check-advice')).toHaveCount(0);
    // The check took no seat and opened no signaling socket.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^tandem_seats 0$/m);
    expect(metrics).toMatch(/^tandem_connections 0$/m);
  } finally {
    await server.stop();
  }
});

test('with a wrong TURN secret, the check on the join card says the relay does not answer and what to try', async () => {
  const turn = await Coturn.start('the-secret-coturn-knows-0123');
  const server = await Server.start({
    args: ['--turn-url', turn.url, '--turn-secret', 'not-the-secret-coturn-knows'],
  });
  try {
    const p = await person();
    // A call link from elsewhere shows the join card; the check works there before Join now.
    await p.page.goto(`${server.url}/call/Alice/check-room`);
    await waitForHydration(p.page);
    await expect(p.page.getByRole('button', { name: 'Join now' })).toBeVisible();
    const result = await check(p.page);
    await expect(result.locator('.check-relay')).toHaveText("This server's relay does not answer.");
    await expect(result.locator('.check-advice')).toContainText('another network');
  } finally {
    await server.stop();
    await turn.stop();
  }
});

test('with no ICE server at all, the check says calls work on this network and that there is no relay', async () => {
  const server = await Server.start();
  try {
    const p = await person();
    await p.page.goto(`${server.url}/`);
    await waitForHydration(p.page);
    const result = await check(p.page);
    await expect(result.locator('.check-direct')).toHaveText(/^Direct calls work with people on your network/);
    await expect(result.locator('.check-relay')).toHaveText(
      'This server has no relay for calls that cannot connect directly.',
    );
  } finally {
    await server.stop();
  }
});
