// With real local sandboxes: a session or task refused for its files answers 400 and leaves no
// session, no task and no sandbox (record, mount or directory) behind; files the sandbox accepts pass.
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDataPaths } from '../../src/config/config.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';
import { mountPoints } from '../helpers/sandbox-host.js';

describe('refused files leave nothing behind (local sandboxes)', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [], whenExhausted: { text: 'Done.' } }, config: { sandbox: { warmPoolSize: 0 } } });
    await harness.settled();
  });
  afterAll(async () => {
    await harness?.close();
  });

  const post = (url: string, body: unknown) =>
    fetch(`${harness.baseUrl}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const sandboxDirs = async () => readdir(resolveDataPaths(harness.hangar.config).sandboxRoot).catch(() => [] as string[]);
  const sandboxMounts = async () => (await mountPoints()).filter((point) => point.startsWith(harness.dataDir));

  const badFiles: Array<Record<string, string>> = [{ '.': 'x' }, { a: 'x', 'a/b': 'y' }, { 'a/b/c': 'x', 'a/b': 'y' }, { 'x/': 'y' }];
  const nothingLeft = async (before: { records: number; dirs: string[]; mounts: string[] }) => {
    expect(((await (await fetch(`${harness.baseUrl}/v1/sessions`)).json()) as { sessions: unknown[] }).sessions).toEqual([]);
    expect(((await (await fetch(`${harness.baseUrl}/v1/tasks`)).json()) as { tasks: unknown[] }).tasks).toEqual([]);
    expect(harness.sandboxes.size).toBe(before.records);
    expect(harness.hangar.sessionManager.liveCount).toBe(0);
    expect(await sandboxDirs()).toEqual(before.dirs);
    expect(await sandboxMounts()).toEqual(before.mounts);
  };

  it('POST /v1/sessions with bad files: 400, and no session and no sandbox remains', async () => {
    const before = { records: harness.sandboxes.size, dirs: await sandboxDirs(), mounts: await sandboxMounts() };
    for (const files of badFiles) {
      for (const pattern of ['long-running', 'hybrid'] as const) {
        const answer = await post('/v1/sessions', { pattern, files });
        expect(answer.status, JSON.stringify(files)).toBe(400);
        expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
      }
    }
    await nothingLeft(before);
  });

  it('POST /v1/tasks with bad files: 400 in every mode, and no task and no sandbox remains', async () => {
    const before = { records: harness.sandboxes.size, dirs: await sandboxDirs(), mounts: await sandboxMounts() };
    for (const files of badFiles) {
      for (const mode of [{}, { wait: false }, { stream: true }]) {
        const answer = await post('/v1/tasks', { prompt: 'hi', files, ...mode });
        expect(answer.status, JSON.stringify({ files, mode })).toBe(400);
        expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
      }
    }
    await nothingLeft(before);
  });

  it('accepts the paths the sandbox takes: ./ and // inside a path, names starting with dots', async () => {
    const answer = await post('/v1/sessions', { pattern: 'hybrid', files: { './src//main.ts': 'export {};\n', '..notes': 'n', 'dir/.env': 'A=1' } });
    expect(answer.status, await answer.clone().text()).toBe(201);
    const session = (await answer.json()) as { id: string; checkpoint: { id: string } | null };
    expect(session.checkpoint).not.toBeNull();
    const closed = await fetch(`${harness.baseUrl}/v1/sessions/${session.id}`, { method: 'DELETE' });
    expect(closed.status).toBe(200);
  });
});
