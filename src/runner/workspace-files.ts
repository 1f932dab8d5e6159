// Initial workspace files of a task or session (relative path -> UTF-8 content), checked before
// anything is created: paths stay inside the workspace and name files, no two name the same file,
// no file is also the parent directory of another, and together they fit the sandbox's disk.
import { HangarError } from '../errors/errors.js';

/** One problem of a files map: `file` is the key as sent, absent when the problem is the whole map. */
export interface WorkspaceFileProblem {
  file?: string;
  message: string;
}

export interface WorkspaceFileLimits {
  /** The workspace's disk limit (the sandbox's resources.diskMb): the files must fit in it. */
  diskMb?: number;
}

/** Longest name of one path component on Linux filesystems (NAME_MAX), in bytes. */
const NAME_MAX_BYTES = 255;
/** Each file takes at least one block of this size on the workspace's filesystem. */
const BLOCK_BYTES = 4096;

/** The normalized path (components joined by "/"), or the reason the key names no file in the workspace. */
export function normalizeWorkspacePath(file: string): { path: string } | { problem: string } {
  if (file === '') return { problem: 'the path is empty' };
  if (file.includes('\0')) return { problem: 'the path contains a NUL character' };
  if (file.startsWith('/')) return { problem: 'the path must be relative to the workspace' };
  if (file.endsWith('/')) return { problem: 'the path ends with "/": it names a directory, not a file' };
  const parts = file.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return { problem: 'the path leaves the workspace ("..")' };
  if (parts.length === 0) return { problem: 'the path names the workspace itself, not a file' };
  const long = parts.find((part) => Buffer.byteLength(part, 'utf8') > NAME_MAX_BYTES);
  if (long !== undefined) return { problem: `a path component is longer than ${NAME_MAX_BYTES} bytes` };
  return { path: parts.join('/') };
}

/** Problems reported one by one; the rest are counted in one more entry. */
const MAX_REPORTED = 20;

/** Why the files do not fit a workspace of diskMb, or undefined when they do (each file takes whole blocks). */
export function workspaceFilesDiskProblem(files: Record<string, string>, diskMb: number): string | undefined {
  let bytes = 0;
  for (const content of Object.values(files)) bytes += Math.max(1, Math.ceil(Buffer.byteLength(content, 'utf8') / BLOCK_BYTES)) * BLOCK_BYTES;
  if (bytes <= diskMb * 1024 * 1024) return undefined;
  return `the files take ${bytes} bytes (${BLOCK_BYTES}-byte blocks), more than the workspace's disk limit of ${diskMb} MiB (resources.diskMb)`;
}

/** The problems of a files map (empty when the map is valid): at most MAX_REPORTED, then a count of the rest. */
export function workspaceFileProblems(files: Record<string, string>, limits: WorkspaceFileLimits = {}): WorkspaceFileProblem[] {
  const problems: WorkspaceFileProblem[] = [];
  const byPath = new Map<string, string>();
  for (const file of Object.keys(files)) {
    const normalized = normalizeWorkspacePath(file);
    if ('problem' in normalized) {
      problems.push({ file, message: normalized.problem });
      continue;
    }
    const earlier = byPath.get(normalized.path);
    if (earlier !== undefined) problems.push({ file, message: `names the same file as "${earlier}"` });
    else byPath.set(normalized.path, file);
  }
  for (const [normalized, file] of byPath) {
    const parts = normalized.split('/');
    for (let depth = 1; depth < parts.length; depth += 1) {
      const parent = byPath.get(parts.slice(0, depth).join('/'));
      if (parent !== undefined) problems.push({ file: parent, message: `is a file and also a parent directory of "${file}"` });
    }
  }
  const tooLarge = limits.diskMb === undefined ? undefined : workspaceFilesDiskProblem(files, limits.diskMb);
  if (tooLarge !== undefined) problems.unshift({ message: tooLarge });
  if (problems.length <= MAX_REPORTED) return problems;
  return [...problems.slice(0, MAX_REPORTED), { message: `and ${problems.length - MAX_REPORTED} more problems with files` }];
}

/** A problem as text: `file "a/b": ...`, or the message alone for the whole map. */
export function describeWorkspaceFileProblem(problem: WorkspaceFileProblem): string {
  return problem.file === undefined ? problem.message : `file ${JSON.stringify(problem.file)}: ${problem.message}`;
}

/** Throws VALIDATION_FAILED naming every problem (details: [{ in: 'body', path: 'files', message }]). */
export function assertWorkspaceFiles(files: Record<string, string> | undefined, limits: WorkspaceFileLimits = {}): void {
  if (files === undefined) return;
  const problems = workspaceFileProblems(files, limits);
  if (problems.length === 0) return;
  const details = problems.map((problem) => ({ in: 'body', path: 'files', message: describeWorkspaceFileProblem(problem) }));
  throw new HangarError('VALIDATION_FAILED', `invalid request: ${details.map((detail) => `body.files: ${detail.message}`).join('; ')}`, { details });
}
