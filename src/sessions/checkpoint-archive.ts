// What a checkpoint archive holds, as tar arguments: the sandbox's whole user state, that is the
// workspace and the home directory (everything the agent can write but /tmp, which is scratch), less
// what the Claude Code CLI keeps for itself under ~/.claude and the caches the settings exclude.
// Member names are the two trees' absolute paths without the leading '/' ("workspace/...",
// "home/agent/..."), so one archive restores both in place.
// Pure: argument builders and validation only; workspace-snapshots.ts runs tar.
import { HangarError } from '../errors/errors.js';

/**
 * Paths under HOME the CLI owns, never archived (tar wildcards, `*` also matches `/`):
 * - `.claude/projects/*.jsonl`: transcripts (main and subagent). Hangar's SessionStore holds them and
 *   the SDK writes them back on resume; an archived copy would duplicate them and could contradict the
 *   resumed one. The rest of `.claude/projects` (the CLI's per-project `memory/`) is kept.
 * - `.claude/shell-snapshots`: the environment the CLI captured from the shell at its start, remade
 *   by every CLI launch.
 * - `.claude/session-env`, `.claude/sessions`: state of one running CLI process (keyed by its pid).
 */
export const CLI_STATE_EXCLUDES: readonly string[] = ['.claude/projects/*.jsonl', '.claude/shell-snapshots', '.claude/session-env', '.claude/sessions'];

/** The two trees of a sandbox a checkpoint holds. */
export interface ArchiveRoots {
  workspacePath: string;
  homePath: string;
}

/** Format of a checkpoint archive: 1 = the workspace only (members "./..."), 2 = workspace and HOME. */
export type ArchiveFormat = 1 | 2;
export const CURRENT_ARCHIVE_FORMAT: ArchiveFormat = 2;

/**
 * Checks one entry of the exclude list: a relative path under HOME, '/'-separated, without '.' or
 * '..' components, matched literally (no wildcards). Returns it without a trailing '/'.
 */
export function checkHomeExclude(entry: string): string {
  const trimmed = entry.replace(/\/+$/, '');
  const parts = trimmed.split('/');
  if (trimmed === '' || trimmed.startsWith('/') || trimmed.includes('\0') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new HangarError(
      'CONFIG_INVALID',
      `checkpoint HOME exclude ${JSON.stringify(entry)} must be a relative path under HOME, without '.', '..' or empty components`,
    );
  }
  return trimmed;
}

/** A sandbox path as a member name: absolute, without the leading '/' and any trailing one. */
function memberName(absolutePath: string): string {
  if (!absolutePath.startsWith('/') || absolutePath.split('/').some((part) => part === '..' || part === '.')) {
    throw new HangarError('INTERNAL', `sandbox path ${JSON.stringify(absolutePath)} is not a plain absolute path`);
  }
  return absolutePath.replace(/^\/+/, '').replace(/\/+$/, '');
}

/**
 * Arguments of `tar` (run inside the sandbox) writing the zstd archive of both trees to stdout.
 * `--anchored` makes every exclude match from the start of a member name; the CLI's own patterns use
 * wildcards, the configured ones are literal (`--no-wildcards`), each excluding a path and all below it.
 */
export function archiveCreateArgs(roots: ArchiveRoots, homeExcludes: readonly string[]): string[] {
  const workspace = memberName(roots.workspacePath);
  const home = memberName(roots.homePath);
  return [
    '--zstd',
    '--create',
    '--sparse',
    '--file=-',
    '--numeric-owner',
    '--directory',
    '/',
    '--anchored',
    '--wildcards',
    ...CLI_STATE_EXCLUDES.map((pattern) => `--exclude=${home}/${pattern}`),
    '--no-wildcards',
    ...homeExcludes.map((entry) => `--exclude=${home}/${checkHomeExclude(entry)}`),
    workspace,
    home,
  ];
}

/** Arguments of `tar` (inside the sandbox) unpacking an archive of this format from stdin in place. */
export function archiveExtractArgs(roots: ArchiveRoots, format: ArchiveFormat): string[] {
  // Format 1 holds the workspace's contents as "./...".
  const directory = format === 1 ? roots.workspacePath : '/';
  return ['--zstd', '--extract', '--file=-', '--directory', directory, '--no-same-owner'];
}
