// The client against a real Hangar that refuses with 429: it waits out the Retry-After and tries
// again (RATE_LIMITED past the tenant's request rate, CAPACITY_EXCEEDED with every sandbox in use),
// a retried POST creates its resource once, and past its bound it gives up with the 429 itself;
// the `hangar` CLI then says why and what to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarApiError, HangarClient, type RetryOptions } from '../../src/client/hangar-client.js';
import { startCli } from '../helpers/cli-process.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';

/** Retry options whose sleep records each wait; `wait` runs instead of the timer (default: none, at once). */
function recordingRetry(options: RetryOptions = {}, wait: (ms: number) => Promise<void> = async () => undefined) {
  const waits: number[] = [];
  const retry: RetryOptions = {
    ...options,
    sleep: async (ms) => {
      waits.push(ms);
      await wait(ms);
    },
  };
  return { waits, retry };
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('client retries of RATE_LIMITED', () => {
  let harness: Harness;

  beforeAll(async () => {
    // One request at once, then one every 2 s: a second request at once answers 429 with Retry-After 2.
    harness = await startHarness({
      scenario: { replies: [] },
      config: { auth: { mode: 'keys', rateLimit: { requestsPerSecond: 0.5, burst: 1 } }, sandbox: { warmPoolSize: 0 } },
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('waits out the Retry-After and creates the API key once', async () => {
    const { waits, retry } = recordingRetry({}, realSleep);
    const client = new HangarClient(harness.baseUrl, { apiKey: harness.apiKey, retry });
    await client.listTasks();
    const created = await client.createApiKey({ name: 'after-a-wait', scopes: ['read'] });
    expect(created.key.name).toBe('after-a-wait');
    expect(waits[0]).toBe(2000);
    await realSleep(2000);
    const keys = await client.listApiKeys();
    expect(keys.filter((key) => key.name === 'after-a-wait')).toHaveLength(1);
  }, 30_000);

  it('gives up with the 429 after maxAttempts', async () => {
    const { waits, retry } = recordingRetry({ maxAttempts: 3 });
    const client = new HangarClient(harness.baseUrl, { apiKey: harness.apiKey, retry });
    await realSleep(2000);
    await client.listTasks();
    const refused = await client.listTasks().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HangarApiError);
    expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED', attempts: 3, waitedMs: 4000, retryAfterSec: 2 });
    expect(waits).toEqual([2000, 2000]);
  }, 30_000);

  it('gives up at once when Retry-After is longer than maxWaitMs, or with retry off', async () => {
    const capped = recordingRetry({ maxWaitMs: 1000 });
    const off = new HangarClient(harness.baseUrl, { apiKey: harness.apiKey, retry: false });
    await realSleep(2000);
    await off.listTasks();
    await expect(off.listTasks()).rejects.toMatchObject({ status: 429, code: 'RATE_LIMITED', attempts: 1 });
    const client = new HangarClient(harness.baseUrl, { apiKey: harness.apiKey, retry: capped.retry });
    await expect(client.listTasks()).rejects.toMatchObject({ status: 429, code: 'RATE_LIMITED', attempts: 1 });
    expect(capped.waits).toEqual([]);
  }, 30_000);
});

describe('client retries of CAPACITY_EXCEEDED', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] }, config: { sandbox: { maxLive: 1, warmPoolSize: 0 } } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('creates the sandbox once the only slot is free, and only one', async () => {
    const held = await harness.client.createSandbox();
    // The wait frees the slot, as another user closing their sandbox would.
    const { waits, retry } = recordingRetry({}, async () => {
      await harness.client.closeSandbox(held.id);
    });
    const client = new HangarClient(harness.baseUrl, { retry });
    const created = await client.createSandbox();
    expect(waits).toEqual([5000]);
    expect(created.status).toBe('active');
    const sandboxes = await client.listSandboxes();
    expect(sandboxes.map((sandbox) => [sandbox.id, sandbox.status]).sort()).toEqual(
      [
        [held.id, 'closed'],
        [created.id, 'active'],
      ].sort(),
    );
    await client.closeSandbox(created.id);
  }, 60_000);

  it('the CLI says it retries, then gives up with the error and a hint', async () => {
    const held = await harness.client.createSandbox();
    try {
      const finished = await startCli(['sandboxes', 'new'], { HANGAR_URL: harness.baseUrl }).done;
      expect(finished.code).toBe(1);
      expect(finished.stderr).toContain('· CAPACITY_EXCEEDED: refused for now (429), trying again in 5 s (attempt 2 of 4)');
      expect(finished.stderr).toMatch(/^hangar: CAPACITY_EXCEEDED: no sandbox is free .*sandbox\.maxLive/m);
      expect(finished.stderr).toMatch(
        /^hint: the server still refused after 4 attempts over 15 s and asks to wait 5 s \(Retry-After\) before the next try; .*close or hibernate idle sessions/m,
      );
      const active = (await harness.client.listSandboxes()).filter((sandbox) => sandbox.status === 'active');
      expect(active.map((sandbox) => sandbox.id)).toEqual([held.id]);
    } finally {
      await harness.client.closeSandbox(held.id);
    }
  }, 60_000);
});
