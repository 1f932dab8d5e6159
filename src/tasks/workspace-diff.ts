// Which workspace files a task changed: the pure half of file collection (no I/O). A file is compared
// by content hash when it is small and the task's read budget allows; otherwise, and whenever its stat
// identity did not change, by that identity (size, mtime, ctime, inode). ctime cannot be set from inside
// a sandbox, so an unchanged identity means unchanged content and costs no read at all.
import type { WorkspaceFileEntry, WorkspaceFileRead, WorkspaceFileStat } from '../sandbox/sandbox-provider.js';
import type { FileChange } from '../store/store.js';

export interface FileCollectionLimits {
  /** Most directory entries a scan examines (any kind); beyond it the file list is truncated. */
  maxEntries: number;
  /** Largest file compared by content and returned with it. */
  contentLimitBytes: number;
  /** Bytes read across the task (before and after the run); half is left for after. */
  readBudgetBytes: number;
  /** Content returned across the task's changed files. */
  returnedContentBytes: number;
}

/** A file as seen before the run: its identity, and its hash when it was read. */
export interface DigestEntry extends WorkspaceFileEntry {
  sha256?: string;
}

export interface WorkspaceDigest {
  /** By pathKey(). */
  files: Map<string, DigestEntry>;
  /** The scan stopped at its entry cap: files beyond it were not seen. */
  truncated: boolean;
  /** The deadline stopped the scan or the hashing. */
  aborted: boolean;
  /** Bytes read to hash files. */
  bytesRead: number;
}

/** A byte counter that never goes past its limit. */
export class ByteBudget {
  private spent = 0;

  constructor(readonly limit: number) {}

  /** Takes `bytes` when they fit in what is left; false (nothing taken) otherwise. */
  take(bytes: number): boolean {
    if (bytes > this.limit - this.spent) return false;
    this.spent += bytes;
    return true;
  }

  get used(): number {
    return this.spent;
  }

  get remaining(): number {
    return this.limit - this.spent;
  }
}

/** A lossless string key for raw path bytes. */
export function pathKey(path: Buffer): string {
  return path.toString('latin1');
}

export function comparePaths(a: { path: Buffer }, b: { path: Buffer }): number {
  return Buffer.compare(a.path, b.path);
}

export function sameIdentity(a: WorkspaceFileStat, b: WorkspaceFileStat): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

/** The path for the record: UTF-8 text, plus the raw bytes in base64 when they are not valid UTF-8. */
export function presentPath(path: Buffer): Pick<FileChange, 'path' | 'pathBase64'> {
  const text = path.toString('utf8');
  return Buffer.from(text, 'utf8').equals(path) ? { path: text } : { path: text, pathBase64: path.toString('base64') };
}

export function encodeContent(content: Buffer): Pick<FileChange, 'content' | 'encoding'> {
  const text = content.toString('utf8');
  return Buffer.from(text, 'utf8').equals(content) ? { content: text, encoding: 'utf8' } : { content: content.toString('base64'), encoding: 'base64' };
}

/** Files of a before-scan worth hashing, in the order to hash them: small ones, by path. */
export function filesToHash(entries: WorkspaceFileEntry[], limits: FileCollectionLimits): WorkspaceFileEntry[] {
  return entries.filter((entry) => entry.size <= limits.contentLimitBytes).sort(comparePaths);
}

/** The before-run budget: half of the task's, so the after-run always has at least the other half. */
export function beforeRunBudget(limits: FileCollectionLimits): ByteBudget {
  return new ByteBudget(Math.floor(limits.readBudgetBytes / 2));
}

/** The after-run budget: what the before-run left of the task's. */
export function afterRunBudget(limits: FileCollectionLimits, before: WorkspaceDigest): ByteBudget {
  return new ByteBudget(Math.max(0, limits.readBudgetBytes - before.bytesRead));
}

export type AfterRunPlan =
  /** Same identity as before the run: unchanged, nothing to read. */
  | { kind: 'unchanged' }
  /** Read it (hash, content): the read budget was taken. */
  | { kind: 'read' }
  /** Changed or created, reported from its identity alone. */
  | { kind: 'stat-only'; omitted: NonNullable<FileChange['contentOmitted']> };

/**
 * What to do with a file found after the run. A read is worth it when the file is small and either its
 * content can still be returned or a hash from before can prove it unchanged; it takes the read budget.
 */
export function planAfterRun(
  entry: WorkspaceFileEntry,
  previous: DigestEntry | undefined,
  limits: FileCollectionLimits,
  budget: ByteBudget,
  returned: ByteBudget,
): AfterRunPlan {
  if (previous !== undefined && sameIdentity(previous, entry)) return { kind: 'unchanged' };
  if (entry.size > limits.contentLimitBytes) return { kind: 'stat-only', omitted: 'too-large' };
  if (previous?.sha256 === undefined && entry.size > returned.remaining) return { kind: 'stat-only', omitted: 'returned-limit' };
  if (!budget.take(entry.size)) return { kind: 'stat-only', omitted: 'read-budget' };
  return { kind: 'read' };
}

/** A created or modified file reported without content. */
export function changeWithoutContent(
  entry: WorkspaceFileEntry,
  previous: DigestEntry | undefined,
  omitted: NonNullable<FileChange['contentOmitted']>,
  error?: string,
): FileChange {
  const change: FileChange = {
    ...presentPath(entry.path),
    change: previous === undefined ? 'created' : 'modified',
    sizeBytes: entry.size,
    allocatedBytes: entry.allocatedBytes,
  };
  if (error !== undefined) change.error = error;
  else change.contentOmitted = omitted;
  return change;
}

/**
 * The change a read file makes, or undefined when its hash matches the one from before the run.
 * Content is returned while the returned-content budget lasts.
 */
export function changeFromRead(
  entry: WorkspaceFileEntry,
  previous: DigestEntry | undefined,
  read: WorkspaceFileRead,
  returned: ByteBudget,
): FileChange | undefined {
  const seen = { ...entry, ...read.stat };
  if (read.tooLarge || read.sha256 === undefined) return changeWithoutContent(seen, previous, 'too-large');
  if (previous?.sha256 === read.sha256 && previous.size === read.stat.size) return undefined;
  const change: FileChange = {
    ...presentPath(entry.path),
    change: previous === undefined ? 'created' : 'modified',
    sizeBytes: read.stat.size,
    allocatedBytes: read.stat.allocatedBytes,
  };
  if (read.content !== undefined && returned.take(read.content.length)) Object.assign(change, encodeContent(read.content));
  else change.contentOmitted = 'returned-limit';
  return change;
}

/** Files of the before-run digest absent after the run (only meaningful when the after scan was complete). */
export function deletedFiles(before: WorkspaceDigest, after: ReadonlySet<string>): FileChange[] {
  const deleted: FileChange[] = [];
  for (const [key, entry] of before.files) {
    if (!after.has(key)) deleted.push({ ...presentPath(entry.path), change: 'deleted', sizeBytes: entry.size });
  }
  return deleted;
}

/** Changes in a stable order: by raw path bytes. */
export function sortChanges(changes: FileChange[]): FileChange[] {
  const raw = (change: FileChange): Buffer => (change.pathBase64 !== undefined ? Buffer.from(change.pathBase64, 'base64') : Buffer.from(change.path, 'utf8'));
  return changes
    .map((change) => ({ change, key: raw(change) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ change }) => change);
}
