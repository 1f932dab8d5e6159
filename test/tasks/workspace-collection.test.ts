// File collection against the in-memory sandbox adapter: before/after digests, budgets, deadline,
// truncation, and one file failing without losing the others.
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../src/errors/errors.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import type { Sandbox } from '../../src/sandbox/sandbox-provider.js';
import { collectChanges, digestWorkspace } from '../../src/tasks/workspace-collection.js';
import type { FileCollectionLimits } from '../../src/tasks/workspace-diff.js';

const LIMITS: FileCollectionLimits = { maxEntries: 1000, contentLimitBytes: 64, readBudgetBytes: 1024, returnedContentBytes: 512 };

async function newSandbox(): Promise<Sandbox & { files: Map<string, Buffer> }> {
  const provider = createInMemorySandboxProvider();
  const sandbox = await provider.create({ resources: { memoryMb: 64, cpus: 1, diskMb: 16, pids: 16 }, bridges: [] });
  return provider.sandboxes.get(sandbox.id) as Sandbox & { files: Map<string, Buffer> };
}

const live = (): AbortSignal => new AbortController().signal;

describe('file collection', () => {
  it('reports created, modified and deleted files, with content for small ones only', async () => {
    const sandbox = await newSandbox();
    await sandbox.writeFile('same.txt', 'unchanged');
    await sandbox.writeFile('rewritten.txt', 'same bytes');
    await sandbox.writeFile('edited.txt', 'old');
    await sandbox.writeFile('removed.txt', 'bye');
    const before = await digestWorkspace(sandbox, LIMITS, live());
    expect(before.bytesRead).toBe('unchanged'.length + 'same bytes'.length + 'old'.length + 'bye'.length);
    await sandbox.writeFile('rewritten.txt', 'same bytes');
    await sandbox.writeFile('edited.txt', 'new');
    sandbox.files.delete('removed.txt');
    await sandbox.writeFile('created.txt', 'fresh');
    await sandbox.writeFile('big.bin', Buffer.alloc(100));
    const { files, report } = await collectChanges(sandbox, before, LIMITS, live());
    expect(files).toEqual([
      { path: 'big.bin', change: 'created', sizeBytes: 100, allocatedBytes: 4096, contentOmitted: 'too-large' },
      { path: 'created.txt', change: 'created', sizeBytes: 5, allocatedBytes: 4096, content: 'fresh', encoding: 'utf8' },
      { path: 'edited.txt', change: 'modified', sizeBytes: 3, allocatedBytes: 4096, content: 'new', encoding: 'utf8' },
      { path: 'removed.txt', change: 'deleted', sizeBytes: 3 },
    ]);
    expect(report).toMatchObject({ filesSeen: 5, truncated: false, aborted: false });
  });

  it('spends at most the read budget, then compares by identity', async () => {
    const sandbox = await newSandbox();
    for (let index = 0; index < 20; index += 1) await sandbox.writeFile(`f${String(index).padStart(2, '0')}`, 'x'.repeat(60));
    const before = await digestWorkspace(sandbox, LIMITS, live());
    expect(before.bytesRead).toBeLessThanOrEqual(LIMITS.readBudgetBytes / 2);
    for (let index = 0; index < 20; index += 1) await sandbox.writeFile(`f${String(index).padStart(2, '0')}`, 'y'.repeat(60));
    const { files, report } = await collectChanges(sandbox, before, LIMITS, live());
    expect(report.bytesRead).toBeLessThanOrEqual(LIMITS.readBudgetBytes);
    expect(files).toHaveLength(20);
    expect(files.every((file) => file.change === 'modified')).toBe(true);
    expect(files.filter((file) => file.content !== undefined).length).toBeGreaterThan(0);
    expect(files.filter((file) => file.contentOmitted !== undefined).length).toBeGreaterThan(0);
  });

  it('reports a file it cannot read with its error and keeps the others', async () => {
    const sandbox = await newSandbox();
    const before = await digestWorkspace(sandbox, LIMITS, live());
    await sandbox.writeFile('good.txt', 'fine');
    await sandbox.writeFile('bad.txt', 'boom');
    const failing = Object.assign(Object.create(sandbox) as Sandbox, {
      readFileBytes: (path: Buffer, options: Parameters<Sandbox['readFileBytes']>[1]) =>
        path.toString() === 'bad.txt'
          ? Promise.reject(new HangarError('VALIDATION_FAILED', 'not a regular file: bad.txt'))
          : sandbox.readFileBytes(path, options),
    });
    const { files } = await collectChanges(failing, before, LIMITS, live());
    expect(files).toEqual([
      { path: 'bad.txt', change: 'created', sizeBytes: 4, allocatedBytes: 4096, error: 'not a regular file: bad.txt' },
      { path: 'good.txt', change: 'created', sizeBytes: 4, allocatedBytes: 4096, content: 'fine', encoding: 'utf8' },
    ]);
  });

  it('stops reading at the deadline and reports the rest from identity, without deletions', async () => {
    const sandbox = await newSandbox();
    await sandbox.writeFile('old.txt', 'old');
    const before = await digestWorkspace(sandbox, LIMITS, live());
    await sandbox.writeFile('a.txt', 'a');
    await sandbox.writeFile('b.txt', 'b');
    const deadline = new AbortController();
    const stopping = Object.assign(Object.create(sandbox) as Sandbox, {
      readFileBytes: async (path: Buffer, options: Parameters<Sandbox['readFileBytes']>[1]) => {
        const read = await sandbox.readFileBytes(path, options);
        deadline.abort();
        return read;
      },
    });
    const { files, report } = await collectChanges(stopping, before, LIMITS, deadline.signal);
    expect(report.aborted).toBe(true);
    expect(files).toEqual([
      { path: 'a.txt', change: 'created', sizeBytes: 1, allocatedBytes: 4096, content: 'a', encoding: 'utf8' },
      { path: 'b.txt', change: 'created', sizeBytes: 1, allocatedBytes: 4096, contentOmitted: 'deadline' },
    ]);
  });

  it('truncates at maxEntries and then reports no deletions', async () => {
    const sandbox = await newSandbox();
    for (let index = 0; index < 5; index += 1) await sandbox.writeFile(`f${index}`, String(index));
    const before = await digestWorkspace(sandbox, LIMITS, live());
    const { files, report } = await collectChanges(sandbox, before, { ...LIMITS, maxEntries: 2 }, live());
    expect(report).toMatchObject({ truncated: true, filesSeen: 2 });
    expect(files).toEqual([]);
  });
});
