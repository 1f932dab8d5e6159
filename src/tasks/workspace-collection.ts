// File collection of a task, the I/O half (decisions are in workspace-diff.ts): a bounded scan of the
// workspace before the run, hashes of its small files within half the read budget, then after the run
// a second scan and reads of only the files whose identity changed. Every step stops at the task's
// deadline (its abort signal) and keeps what it has; an error on one file is reported on that file.
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { FileChange } from '../store/store.js';
import {
  afterRunBudget,
  beforeRunBudget,
  ByteBudget,
  changeFromRead,
  changeWithoutContent,
  comparePaths,
  deletedFiles,
  filesToHash,
  pathKey,
  planAfterRun,
  sameIdentity,
  sortChanges,
  type FileCollectionLimits,
  type WorkspaceDigest,
} from './workspace-diff.js';

/** What the task record says about its file collection (under sandbox.fileCollection). */
export interface FileCollectionReport {
  /** Regular files seen after the run. */
  filesSeen: number;
  /** A scan stopped at maxEntries: the file list is partial (and deletions are not reported). */
  truncated: boolean;
  /** The task's deadline came during collection: files not reached are reported from their identity, or not at all. */
  aborted: boolean;
  /** Bytes read across the task, before and after the run. */
  bytesRead: number;
  /** The after-run scan failed: no file could be reported. */
  error?: string;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Scans the workspace and hashes its small files within half the task's read budget. */
export async function digestWorkspace(sandbox: Sandbox, limits: FileCollectionLimits, signal: AbortSignal): Promise<WorkspaceDigest> {
  const scan = await sandbox.scanFiles({ maxEntries: limits.maxEntries, signal });
  const digest: WorkspaceDigest = { files: new Map(), truncated: scan.truncated, aborted: scan.aborted, bytesRead: 0 };
  for (const entry of scan.entries) digest.files.set(pathKey(entry.path), entry);
  const budget = beforeRunBudget(limits);
  for (const entry of filesToHash(scan.entries, limits)) {
    if (signal.aborted) {
      digest.aborted = true;
      break;
    }
    if (!budget.take(entry.size)) continue;
    try {
      const read = await sandbox.readFileBytes(entry.path, { maxBytes: limits.contentLimitBytes, signal });
      // The identity hashed is the one the read saw (the file may have changed since the scan).
      if (read.sha256 !== undefined) digest.files.set(pathKey(entry.path), { ...entry, ...read.stat, sha256: read.sha256 });
    } catch {
      if (signal.aborted) {
        digest.aborted = true;
        break;
      }
      // Unreadable now (swapped, vanished): compared by identity after the run.
    }
  }
  digest.bytesRead = budget.used;
  return digest;
}

/** The files the run created, modified or deleted, compared with the digest taken before it. */
export async function collectChanges(
  sandbox: Sandbox,
  before: WorkspaceDigest,
  limits: FileCollectionLimits,
  signal: AbortSignal,
): Promise<{ files: FileChange[]; report: FileCollectionReport }> {
  const report: FileCollectionReport = { filesSeen: 0, truncated: before.truncated, aborted: before.aborted, bytesRead: before.bytesRead };
  let scan;
  try {
    scan = await sandbox.scanFiles({ maxEntries: limits.maxEntries, signal });
  } catch (error) {
    return { files: [], report: { ...report, error: `scanning the workspace failed: ${messageOf(error)}` } };
  }
  report.filesSeen = scan.entries.length;
  report.truncated ||= scan.truncated;
  report.aborted ||= scan.aborted;
  const budget = afterRunBudget(limits, before);
  const returned = new ByteBudget(limits.returnedContentBytes);
  const changes: FileChange[] = [];
  const seen = new Set<string>();
  for (const entry of scan.entries.sort(comparePaths)) {
    const key = pathKey(entry.path);
    seen.add(key);
    const previous = before.files.get(key);
    if (signal.aborted) {
      // Past the deadline: only identities, no more reads.
      report.aborted = true;
      if (previous === undefined || !sameIdentity(previous, entry)) changes.push(changeWithoutContent(entry, previous, 'deadline'));
      continue;
    }
    const plan = planAfterRun(entry, previous, limits, budget, returned);
    if (plan.kind === 'unchanged') continue;
    if (plan.kind === 'stat-only') {
      changes.push(changeWithoutContent(entry, previous, plan.omitted));
      continue;
    }
    try {
      const read = await sandbox.readFileBytes(entry.path, { maxBytes: limits.contentLimitBytes, keepContent: true, signal });
      const change = changeFromRead(entry, previous, read, returned);
      if (change !== undefined) changes.push(change);
    } catch (error) {
      if (signal.aborted) {
        report.aborted = true;
        changes.push(changeWithoutContent(entry, previous, 'deadline'));
      } else {
        changes.push(changeWithoutContent(entry, previous, 'too-large', messageOf(error)));
      }
    }
  }
  report.bytesRead += budget.used;
  // A partial scan cannot tell a deleted file from one it did not reach.
  if (!scan.truncated && !scan.aborted) changes.push(...deletedFiles(before, seen));
  return { files: sortChanges(changes), report };
}
