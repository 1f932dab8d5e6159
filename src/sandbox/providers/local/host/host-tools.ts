// The host programs and facts every sandbox launch uses, found once by preflight (host/preflight.ts).
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import type { HostEtcEntry } from '../isolation/etc-files.js';
import { DEFAULT_SEARCH_PATH } from '../layout.js';

export interface HostTools {
  sh: string;
  /** bash, when installed: the bridge launcher then waits with builtin connects instead of polling ss. */
  bash: string | undefined;
  bwrap: string;
  socat: string;
  setpriv: string;
  mount: string;
  umount: string;
  sleep: string;
  cat: string;
  /** env(1) (coreutils): a warm launcher execs the command through `env -i` with its environment. */
  env: string | undefined;
  /** GNU tar: packs a directory to copy in on the host, unpacks it inside (as the sandbox user). */
  tar: string;
  /** iproute2's ss, when installed (faster bridge readiness checks). */
  ss: string | undefined;
  /** mkfs.ext4 (e2fsprogs); required for the ext4 backing. */
  mkfsExt4: string | undefined;
  /** losetup (util-linux); detaches loop devices a teardown or a crash left attached. */
  losetup: string | undefined;
  /** The seccomp program every sandbox process runs under (see ../../seccomp). */
  seccompFilter: Buffer;
  /** The host's allowed /etc entries (empty when /etc itself is a system path). */
  etcEntries: HostEtcEntry[];
  /** /proc files shown empty inside. */
  procMasks: string[];
  /** bwrap arguments that make the system paths visible. */
  systemArgs: string[];
  /** Host paths visible inside through systemArgs binds. */
  systemBinds: string[];
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Resolves an executable: the configured path, else the first match on PATH and the standard dirs. */
export async function findExecutable(name: string, configured: string | undefined): Promise<string | undefined> {
  if (configured !== undefined) return (await isExecutable(configured)) ? configured : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':'), ...DEFAULT_SEARCH_PATH.split(':')].filter((dir) => dir.startsWith('/'));
  for (const dir of new Set(dirs)) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}
