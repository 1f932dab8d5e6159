// The processes the agent left running in a local sandbox: every process of its cgroups but Hangar's
// own launch machinery. Each launch is one chain, seen from the host as
//   outer bwrap (the host pid Hangar spawned) -> bwrap init (pid 1 inside) -> command (pid 2 inside)
// with the socat bridges forked by the launch script before it exec'd the command (so children of the
// command) and their per-connection forks. The command is the CLI, a helper (tar) or a warm
// launcher's shell. Anything else (the agent's background jobs, and their orphans, which the bwrap
// init adopts) is the agent's. Read from /proc/<pid>/stat and status, at most MAX_READ processes
// (a sandbox's pids.max bounds them anyway).
import { readFile } from 'node:fs/promises';

export interface ProcessEntry {
  /** Host pid. */
  pid: number;
  ppid: number;
  /** The kernel's comm: the executable's name, at most 15 bytes. */
  comm: string;
  /** The pid inside the sandbox's innermost pid namespace. */
  nsPid: number;
}

const MAX_READ = 4096;

/** Parses /proc/<pid>/stat (comm may hold spaces and parentheses) and the NSpid line of /proc/<pid>/status. */
export function parseProcessEntry(pid: number, stat: string, status: string): ProcessEntry | undefined {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const nsLine = /^NSpid:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
  const nsPid = Number(nsLine?.at(-1) ?? Number.NaN);
  if (!Number.isInteger(ppid) || !Number.isInteger(nsPid)) return undefined;
  return { pid, ppid, comm: stat.slice(open + 1, close), nsPid };
}

/** The entries that are not Hangar's launch chains (see the file header) started from `launched`. */
export function agentEntries(entries: readonly ProcessEntry[], launched: ReadonlySet<number>): ProcessEntry[] {
  const byPid = new Map(entries.map((entry) => [entry.pid, entry]));
  const own = new Set<number>();
  const inits = new Set<number>();
  const commands = new Set<number>();
  for (const entry of entries) {
    if (launched.has(entry.pid)) own.add(entry.pid);
    else if (launched.has(entry.ppid) && entry.nsPid === 1) inits.add(entry.pid);
  }
  for (const entry of entries) if (inits.has(entry.ppid) && entry.nsPid === 2) commands.add(entry.pid);
  const isBridge = (entry: ProcessEntry): boolean => {
    // socat children of a command, or of such a socat (a forked connection), up to a small depth.
    let current: ProcessEntry | undefined = entry;
    for (let depth = 0; depth < 4 && current !== undefined && current.comm === 'socat'; depth += 1) {
      if (commands.has(current.ppid)) return true;
      current = byPid.get(current.ppid);
    }
    return false;
  };
  return entries.filter((entry) => !own.has(entry.pid) && !inits.has(entry.pid) && !commands.has(entry.pid) && !isBridge(entry));
}

/** Reads the entries of these host pids (those gone meanwhile are skipped). */
export async function readProcessEntries(pids: readonly number[]): Promise<ProcessEntry[]> {
  const entries: ProcessEntry[] = [];
  for (const pid of pids.slice(0, MAX_READ)) {
    try {
      const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
      const entry = parseProcessEntry(pid, stat, status);
      if (entry !== undefined) entries.push(entry);
    } catch {
      // Exited between the listing and the read.
    }
  }
  return entries;
}
