// The task timeout covers file collection: a workspace scan that would never end on its own stops when
// the task's deadline fires, and the task is recorded with what collection had found.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { parseConfig } from '../../src/config/config.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import type { Sandbox, SandboxProvider, WorkspaceScan, WorkspaceScanOptions } from '../../src/sandbox/sandbox-provider.js';

/** Sandboxes whose second scan (the one after the run) finds what is there, then waits for the signal. */
function stallingProvider(): SandboxProvider {
  const inner = createInMemorySandboxProvider();
  return {
    name: 'stalling-in-memory',
    async create(spec) {
      const sandbox = await inner.create(spec);
      let scans = 0;
      return Object.assign(Object.create(sandbox) as Sandbox, {
        scanFiles: async (options: WorkspaceScanOptions): Promise<WorkspaceScan> => {
          scans += 1;
          if (scans === 1) return sandbox.scanFiles(options);
          // What the agent would have written during the run.
          await sandbox.writeFile('made-during-run.txt', 'new');
          const found = await sandbox.scanFiles({ maxEntries: options.maxEntries });
          await new Promise<void>((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
          return { ...found, aborted: true };
        },
      });
    },
    close: () => inner.close(),
  };
}

describe('task deadline during file collection', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-deadline-'));
  let hangar: Hangar;

  beforeAll(async () => {
    // Requests here test validation and error answers without keys; test/api/auth.test.ts covers keys.
    const config = parseConfig({ dataDir: directory, logLevel: 'silent', auth: { mode: 'none' }, agent: { taskTimeoutMs: 1500 } });
    hangar = await createHangar(config, { logger: pino({ level: 'silent' }), sandboxProvider: stallingProvider() });
  });
  afterAll(async () => {
    await hangar.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('ends the task at its timeout and records the files found so far', async () => {
    const response = await hangar.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ prompt: 'anything', files: { 'seed.txt': 'seed' } }),
    });
    expect(response.statusCode).toBe(200);
    const task = response.json() as { status: string; error: { code: string; message: string }; files: unknown[]; sandbox: { fileCollection: unknown } };
    expect(task.status).toBe('interrupted');
    expect(task.error).toMatchObject({ code: 'INTERRUPTED', message: expect.stringContaining('timeout') });
    expect(task.sandbox.fileCollection).toMatchObject({ aborted: true, truncated: false, filesSeen: 2 });
    // seed.txt is unchanged; the new file is reported from its identity, without reading it past the deadline.
    expect(task.files).toEqual([{ path: 'made-during-run.txt', change: 'created', sizeBytes: 3, allocatedBytes: 4096, contentOmitted: 'deadline' }]);
  });
});
