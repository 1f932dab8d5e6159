// The pure half of file collection: which files to hash, what to read after the run, how changes are
// reported (paths that are not UTF-8, large and sparse files, budgets), without any sandbox.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WorkspaceFileEntry, WorkspaceFileRead } from '../../src/sandbox/sandbox-provider.js';
import {
  afterRunBudget,
  beforeRunBudget,
  ByteBudget,
  changeFromRead,
  changeWithoutContent,
  deletedFiles,
  encodeContent,
  filesToHash,
  pathKey,
  planAfterRun,
  presentPath,
  sameIdentity,
  sortChanges,
  type DigestEntry,
  type FileCollectionLimits,
  type WorkspaceDigest,
} from '../../src/tasks/workspace-diff.js';

const MIB = 1024 * 1024;
const LIMITS: FileCollectionLimits = { maxEntries: 1000, contentLimitBytes: MIB, readBudgetBytes: 8 * MIB, returnedContentBytes: 2 * MIB };
const BAD_NAME = Buffer.concat([Buffer.from('dir/bad'), Buffer.of(0xff, 0xfe), Buffer.from('.txt')]);

function entry(path: string | Buffer, size: number, overrides: Partial<WorkspaceFileEntry> = {}): WorkspaceFileEntry {
  return {
    path: Buffer.isBuffer(path) ? path : Buffer.from(path),
    size,
    allocatedBytes: Math.ceil(size / 4096) * 4096,
    mtimeNs: 1n,
    ctimeNs: 1n,
    ino: 10n,
    ...overrides,
  };
}

function sha(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function readOf(file: WorkspaceFileEntry, content: string): WorkspaceFileRead {
  const bytes = Buffer.from(content);
  return { stat: { ...file, size: bytes.length }, tooLarge: false, sha256: sha(bytes), content: bytes };
}

function digestOf(entries: DigestEntry[], overrides: Partial<WorkspaceDigest> = {}): WorkspaceDigest {
  return { files: new Map(entries.map((file) => [pathKey(file.path), file])), truncated: false, aborted: false, bytesRead: 0, ...overrides };
}

describe('workspace diff', () => {
  it('presents UTF-8 paths as they are and other bytes with U+FFFD plus base64', () => {
    expect(presentPath(Buffer.from('docs/naïve.md'))).toEqual({ path: 'docs/naïve.md' });
    const shown = presentPath(BAD_NAME);
    expect(shown.path).toBe('dir/bad\uFFFD\uFFFD.txt');
    expect(Buffer.from(shown.pathBase64 ?? '', 'base64').equals(BAD_NAME)).toBe(true);
    // Two different raw names that show the same text stay two keys.
    const other = Buffer.concat([Buffer.from('dir/bad'), Buffer.of(0xfe, 0xff), Buffer.from('.txt')]);
    expect(presentPath(other).path).toBe(shown.path);
    expect(pathKey(other)).not.toBe(pathKey(BAD_NAME));
  });

  it('encodes content as utf8 text or base64', () => {
    expect(encodeContent(Buffer.from('hello\n'))).toEqual({ content: 'hello\n', encoding: 'utf8' });
    expect(encodeContent(Buffer.of(0, 0xff))).toEqual({ content: 'AP8=', encoding: 'base64' });
  });

  it('compares identities by size, mtime, ctime and inode', () => {
    const base = entry('a', 5);
    expect(sameIdentity(base, entry('a', 5))).toBe(true);
    for (const change of [{ size: 6 }, { mtimeNs: 2n }, { ctimeNs: 2n }, { ino: 11n }]) expect(sameIdentity(base, entry('a', 5, change))).toBe(false);
    // allocatedBytes is not identity (a filesystem may reallocate).
    expect(sameIdentity(base, entry('a', 5, { allocatedBytes: 0 }))).toBe(true);
  });

  it('hashes only small files, in path order, and leaves half the read budget for after the run', () => {
    const files = [entry('z', 10), entry('big', 2 * MIB), entry('a', MIB)];
    expect(filesToHash(files, LIMITS).map((file) => file.path.toString())).toEqual(['a', 'z']);
    const before = beforeRunBudget(LIMITS);
    expect(before.limit).toBe(4 * MIB);
    expect(afterRunBudget(LIMITS, digestOf([], { bytesRead: 3 * MIB })).limit).toBe(5 * MIB);
  });

  it('keeps a budget from ever going past its limit', () => {
    const budget = new ByteBudget(100);
    expect(budget.take(60)).toBe(true);
    expect(budget.take(50)).toBe(false);
    expect(budget.used).toBe(60);
    expect(budget.take(40)).toBe(true);
    expect(budget.remaining).toBe(0);
    expect(budget.take(0)).toBe(true);
  });

  it('plans after-run reads: nothing for an unchanged identity, stat only for large files or an empty budget', () => {
    const budget = new ByteBudget(3 * MIB);
    const returned = new ByteBudget(LIMITS.returnedContentBytes);
    const previous: DigestEntry = { ...entry('a', 5), sha256: sha('hello') };
    expect(planAfterRun(entry('a', 5), previous, LIMITS, budget, returned)).toEqual({ kind: 'unchanged' });
    expect(budget.used).toBe(0);
    // A 1.9 GB sparse file: its identity alone.
    expect(planAfterRun(entry('sparse', 1900 * MIB, { allocatedBytes: 0 }), undefined, LIMITS, budget, returned)).toEqual({
      kind: 'stat-only',
      omitted: 'too-large',
    });
    expect(planAfterRun(entry('a', 5, { ctimeNs: 2n }), previous, LIMITS, budget, returned)).toEqual({ kind: 'read' });
    expect(planAfterRun(entry('b', MIB), undefined, LIMITS, budget, returned)).toEqual({ kind: 'read' });
    expect(planAfterRun(entry('c', MIB), undefined, LIMITS, budget, returned)).toEqual({ kind: 'read' });
    expect(planAfterRun(entry('d', MIB), undefined, LIMITS, budget, returned)).toEqual({ kind: 'stat-only', omitted: 'read-budget' });
    expect(budget.used).toBe(2 * MIB + 5);
  });

  it('does not read a new file whose content could not be returned anyway', () => {
    const returned = new ByteBudget(10);
    const budget = new ByteBudget(MIB);
    expect(planAfterRun(entry('new', 20), undefined, LIMITS, budget, returned)).toEqual({ kind: 'stat-only', omitted: 'returned-limit' });
    // A hash from before can still prove a changed identity unchanged in content: worth a read.
    expect(planAfterRun(entry('old', 20, { ctimeNs: 5n }), { ...entry('old', 20), sha256: sha('x') }, LIMITS, budget, returned)).toEqual({ kind: 'read' });
  });

  it('reports a read file as created or modified with content, or nothing when its hash did not change', () => {
    const returned = new ByteBudget(LIMITS.returnedContentBytes);
    const file = entry('notes.txt', 5, { ctimeNs: 2n });
    expect(changeFromRead(file, { ...entry('notes.txt', 5), sha256: sha('hello') }, readOf(file, 'hello'), returned)).toBeUndefined();
    expect(changeFromRead(file, { ...entry('notes.txt', 5), sha256: sha('HELLO') }, readOf(file, 'hello'), returned)).toEqual({
      path: 'notes.txt',
      change: 'modified',
      sizeBytes: 5,
      allocatedBytes: 4096,
      content: 'hello',
      encoding: 'utf8',
    });
    const created = changeFromRead(entry(BAD_NAME, 2), undefined, readOf(entry(BAD_NAME, 2), 'hi'), returned);
    expect(created).toMatchObject({ path: 'dir/bad\uFFFD\uFFFD.txt', pathBase64: BAD_NAME.toString('base64'), change: 'created', content: 'hi' });
  });

  it('omits content past the returned-content limit, and reports a file that grew past the content limit from its identity', () => {
    const returned = new ByteBudget(4);
    const file = entry('long.txt', 5);
    expect(changeFromRead(file, undefined, readOf(file, 'hello'), returned)).toEqual({
      path: 'long.txt',
      change: 'created',
      sizeBytes: 5,
      allocatedBytes: 4096,
      contentOmitted: 'returned-limit',
    });
    const grown: WorkspaceFileRead = { stat: { ...file, size: 3 * MIB, allocatedBytes: 3 * MIB }, tooLarge: true };
    expect(changeFromRead(file, undefined, grown, new ByteBudget(MIB))).toEqual({
      path: 'long.txt',
      change: 'created',
      sizeBytes: 3 * MIB,
      allocatedBytes: 3 * MIB,
      contentOmitted: 'too-large',
    });
  });

  it('reports files without content with their size, allocated bytes, and the reason or the error', () => {
    const sparse = entry('disk.img', 1900 * MIB, { allocatedBytes: 0 });
    expect(changeWithoutContent(sparse, undefined, 'too-large')).toEqual({
      path: 'disk.img',
      change: 'created',
      sizeBytes: 1900 * MIB,
      allocatedBytes: 0,
      contentOmitted: 'too-large',
    });
    expect(changeWithoutContent(entry('gone', 3), entry('gone', 2), 'too-large', 'no such file')).toEqual({
      path: 'gone',
      change: 'modified',
      sizeBytes: 3,
      allocatedBytes: 4096,
      error: 'no such file',
    });
  });

  it('lists deletions and sorts changes by raw path bytes', () => {
    const before = digestOf([entry('kept', 1), entry('removed', 7), entry(BAD_NAME, 2)]);
    const deleted = deletedFiles(before, new Set([pathKey(Buffer.from('kept'))]));
    expect(sortChanges(deleted)).toEqual([
      { path: 'dir/bad\uFFFD\uFFFD.txt', pathBase64: BAD_NAME.toString('base64'), change: 'deleted', sizeBytes: 2 },
      { path: 'removed', change: 'deleted', sizeBytes: 7 },
    ]);
    const sorted = sortChanges([
      { path: 'b', change: 'created', sizeBytes: 0 },
      { path: 'a/z', change: 'created', sizeBytes: 0 },
      { path: 'a', change: 'created', sizeBytes: 0 },
    ]);
    expect(sorted.map((change) => change.path)).toEqual(['a', 'a/z', 'b']);
  });
});
