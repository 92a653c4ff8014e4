import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { CONSOLE_TOKEN, confidentCallback, send, startConsoleWorld, type ConsoleWorld } from './support.js';

/**
 * The console's page in headless Chromium (the distribution's package, driven by playwright-core)
 * against the real pipeline: what an operator sees and clicks. Each view is saved as a screenshot
 * under .cache/console-screenshots/ for a look after the run.
 */

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (path): path is string => path !== undefined && path !== '' && existsSync(path),
);
// CI installs Chromium (.ci/run): there, a missing browser fails the run instead of skipping it.
if (CHROMIUM === undefined && process.env.CI === 'true') throw new Error('Chromium not found: install Debian package chromium or set CHROMIUM_PATH');

const SHOTS = join(import.meta.dirname, '..', '..', '.cache', 'console-screenshots');

describe.skipIf(CHROMIUM === undefined)('the console page in a browser', () => {
  let world: ConsoleWorld;
  let browser: Browser;
  let page: Page;
  /** Errors the page's script threw: none is expected. */
  const pageErrors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const textOf = async (testId: string) => (await page.getByTestId(testId).textContent()) ?? '';
  const numberOf = async (testId: string) => Number((await textOf(testId)).replace(/[^0-9]/g, '') || NaN);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    world = await startConsoleWorld('console-browser');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    expect(pageErrors, 'errors thrown by the page').toEqual([]);
    await browser?.close();
    await world?.pipeline.stop();
  });

  it('refuses the page and the API without the token, and logs in with it', async () => {
    const first = await page.goto(world.url);
    expect(first?.status()).toBe(401);
    await page.getByTestId('login-token').waitFor();
    expect(await page.getByTestId('tab-flow').count()).toBe(0);
    expect(await page.evaluate(() => Promise.all(['/api/flow', '/api/dead-letters'].map((p) => fetch(p).then((r) => r.status))))).toEqual([401, 401]);
    await shot('login');

    await page.getByTestId('login-token').fill('not-the-token-at-all');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => textOf('login-error')).toContain('not the console token');

    await page.getByTestId('login-token').fill(CONSOLE_TOKEN);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('tab-flow').waitFor();
    await expect.poll(() => textOf('mode')).toBe('Actions allowed');
  }, 30_000);

  it('shows the flow numbers move when callbacks are sent', async () => {
    await page.getByTestId('tab-flow').click();
    await expect.poll(() => numberOf('flow-received'), { timeout: 10_000 }).not.toBeNaN();
    const received = await numberOf('flow-received');
    const acknowledged = await numberOf('flow-acknowledged');
    for (let i = 0; i < 12; i += 1) await send(world, confidentCallback(`browser-flow-${i % 3}`, i));
    await expect.poll(() => numberOf('flow-received'), { timeout: 20_000 }).toBeGreaterThanOrEqual(received + 12);
    await expect.poll(() => numberOf('flow-acknowledged'), { timeout: 30_000 }).toBeGreaterThanOrEqual(acknowledged + 12);
    expect(await textOf('breaker-state')).toBe('closed');
    expect(await page.getByTestId('lag-table').locator('tbody tr').count()).toBeGreaterThan(0);
    await shot('flow');
  }, 60_000);

  let deadEventId = '';

  it('shows a dead letter appear, opens it, redrives it after the confirmation, and marks it redriven', async () => {
    world.pipeline.simulator.downstream.setFaults({ errorRate: 0, script: [422] });
    deadEventId = await send(world, { ...confidentCallback('browser-dead-letter', 1), note: 'refused downstream' });
    await page.getByTestId('tab-dead-letters').click();
    const row = page.locator(`[data-testid="dlq-row"][data-event-id="${deadEventId}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain('non-retriable');
    expect(await row.textContent()).toContain('waiting');

    await row.getByRole('link').click();
    await page.getByTestId('dlq-detail').waitFor();
    const body = JSON.parse(await textOf('dlq-detail-body')) as Record<string, unknown>;
    expect(body).toMatchObject({ sessionId: 'browser-dead-letter', note: 'refused downstream' });
    await shot('dead-letters');

    await page.getByTestId('redrive-one').click();
    await page.getByTestId('redrive-dialog').waitFor();
    expect(await textOf('redrive-message')).toContain('Dry run: 1 dead letter(s)');
    // Nothing moves before the confirmation.
    expect(await row.textContent()).toContain('waiting');
    await shot('redrive-confirmation');
    await page.getByTestId('redrive-confirm').click();
    await page.getByTestId('redrive-dialog').waitFor({ state: 'hidden' });
    await expect.poll(async () => (await row.textContent()) ?? '', { timeout: 15_000 }).toContain('redriven');
  }, 60_000);

  it('finds the event id and shows its path through to the batch Cognigy accepted', async () => {
    await page.getByTestId('tab-acks').click();
    const path = page.getByTestId('event-path');
    // The redriven callback is fulfilled and acknowledged within a few seconds; search until it shows.
    await waitFor(
      async () => {
        await page.getByTestId('event-search-input').fill(deadEventId);
        await page.getByTestId('event-search-button').click();
        const text = (await path.textContent({ timeout: 2_000 }).catch(() => '')) ?? '';
        return text.includes('FULFILLED') && text.includes('Batch accepted') && text.includes('Cognigy answered');
      },
      { timeoutMs: 45_000, intervalMs: 1_000, what: 'the path through fulfillment to an accepted batch' },
    );
    const text = (await path.textContent()) ?? '';
    expect(text).toContain('Accepted');
    expect(text).toContain('REJECTED');
    expect(text).toContain('Dead-lettered non-retriable');
    expect(text).toContain('redriven');
    expect(await page.getByTestId('batches-table').locator('tbody tr[data-testid="batch-row"]').count()).toBeGreaterThan(0);
    await shot('acknowledgments');
  }, 60_000);

  it('plans a replay as a table, and offers no apply while the group runs or its name is not typed', async () => {
    await page.getByTestId('tab-replay').click();
    await page.getByTestId('replay-group').selectOption(world.groups.fulfillment);
    await page.getByTestId('replay-to').fill('earliest');
    await page.getByTestId('replay-plan').click();
    await page.getByTestId('replay-plan-table').locator('tbody tr').first().waitFor();
    expect(await page.getByTestId('replay-plan-table').locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('replay-apply').isDisabled()).toBe(true);
    await page.getByTestId('replay-confirm-input').fill('not-the-group');
    expect(await page.getByTestId('replay-apply').isDisabled()).toBe(true);
    await shot('replay');
  }, 30_000);
});
