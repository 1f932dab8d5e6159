// Shared pieces of the attack suite's agent-driven files (test/attacks/): the scripted model's Bash
// replies, a script running many named attempts in one Bash call, literals the sandbox rebuilds at run
// time (so a searched-for value never appears in a command line or a transcript), host processes
// holding secrets, and facts about the host to compare before and after an attack.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import type { TaskRequest, TaskView } from '../../src/client/hangar-client.js';
import type { ScenarioReply as Reply } from '../../src/model/scenario.js';
import { toolResultsSent, type Harness } from './hangar-harness.js';

export { checkOutput } from './egress-upstream.js';

/** A scripted reply that runs `command` with the Bash tool. */
export const bashReply = (command: string, timeoutMs = 180_000): Reply => ({
  content: [{ type: 'tool_use', name: 'Bash', input: { command, description: 'attack', timeout: timeoutMs } }],
});

/** A scripted text reply. */
export const textReply = (text: string): Reply => ({ content: [{ type: 'text', text }] });

/** A bash command running a python3 program given on stdin. */
export const python = (program: string, args = ''): string => `python3 - ${args} <<'HANGAR_PY_EOF'\n${program}\nHANGAR_PY_EOF`;

/**
 * A bash script that runs each attempt in a shell of its own (from a file, so no quoting of the outer
 * script touches it), each within `timeoutSec`, and prints `name=<its output and errors on one line>`;
 * read a line back with checkOutput(). Names are shell words ([a-z0-9_]).
 */
export function attemptsScript(attempts: ReadonlyArray<readonly [name: string, command: string]>, timeoutSec = 30): string {
  const lines = ['set +e', 'dir=$(mktemp -d)'];
  for (const [name, command] of attempts) {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`attempt name ${name} is not a shell word`);
    lines.push(`cat > "$dir/${name}" <<'HANGAR_ATTEMPT_EOF'`, command, 'HANGAR_ATTEMPT_EOF');
  }
  const names = attempts.map(([name]) => name).join(' ');
  lines.push(
    `for name in ${names}; do printf "%s=%s\\n" "$name" "$(timeout -s KILL ${timeoutSec} bash --norc --noprofile "$dir/$name" 2>&1 </dev/null | tr "\\n" " ")"; done`,
    'rm -rf "$dir"',
  );
  return lines.join('\n');
}

/**
 * A bash word that evaluates to `value` at run time while the literal appears nowhere in the
 * command (printf gets it in two halves): searching for a value inside the sandbox must not find
 * the search itself in a process's command line or the CLI's transcript.
 */
export function rebuilt(value: string): string {
  const half = Math.ceil(value.length / 2);
  return `"$(printf %s '${value.slice(0, half)}' '${value.slice(half)}')"`;
}

/** Runs a task whose agent issues each command as a Bash call in turn, then says `done`. */
export async function runAgentTask(
  harness: Harness,
  commands: readonly string[],
  request: Partial<TaskRequest> = {},
): Promise<{ task: TaskView; results: string[] }> {
  harness.model.setScenario({ replies: [...commands.map((command) => bashReply(command)), textReply('done')] });
  const task = await harness.client.runTask({
    prompt: 'Run the attack.',
    allowedTools: ['Bash'],
    maxTurns: commands.length + 2,
    ...request,
  });
  return { task, results: toolResultsSent(harness.model) };
}

/** A unique marker for a test run. */
export const marker = (label: string): string => `${label}-${randomBytes(8).toString('hex')}`;

/** A host process (perl sleeping) carrying a secret in its environment and another in its argv. */
export interface SecretHolder {
  child: ChildProcess;
  pid: number;
  envSecret: string;
  argvSecret: string;
  alive(): boolean;
  stop(): void;
}

export function startSecretHolder(): SecretHolder {
  const envSecret = marker('host-env-secret');
  const argvSecret = marker('host-argv-secret');
  const child = spawn('perl', ['-e', 'sleep 600', argvSecret], { env: { PATH: '/usr/bin:/bin', HANGAR_HOST_SECRET: envSecret }, stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not start the host process');
  const pid = child.pid;
  return {
    child,
    pid,
    envSecret,
    argvSecret,
    alive: () => child.exitCode === null && child.signalCode === null && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(argvSecret),
    stop: () => void (child.exitCode === null && child.kill('SIGKILL')),
  };
}

/** Host facts an attack must not change: loaded kernel modules, the host name, and host files' identity (inode, links, mode, size, mtime). */
export interface HostFacts {
  modules: string;
  hostname: string;
  files: Record<string, { ino: number; nlink: number; mode: number; size: number; mtimeMs: number } | null>;
}

const WATCHED_FILES = ['/etc/shadow', '/etc/passwd', '/etc/sudoers', '/usr/bin/su', '/usr/bin/passwd', '/usr/bin/mount', '/root'];

export function hostFacts(extraFiles: readonly string[] = []): HostFacts {
  const files: HostFacts['files'] = {};
  for (const file of [...WATCHED_FILES, ...extraFiles]) {
    try {
      const stats = statSync(file);
      files[file] = { ino: stats.ino, nlink: stats.nlink, mode: stats.mode, size: stats.size, mtimeMs: stats.mtimeMs };
    } catch {
      files[file] = null;
    }
  }
  // Loaded modules' names (a kernel built without module support has no /proc/modules).
  let modules = 'no module support';
  try {
    const names = readFileSync('/proc/modules', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[0])
      .sort();
    modules = createHash('sha256').update(names.join('\n')).digest('hex');
  } catch {
    // Kept as 'no module support'.
  }
  return { modules, hostname: os.hostname(), files };
}
