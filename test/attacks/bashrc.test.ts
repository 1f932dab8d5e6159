// Attack (issue 7, finding 3): bash sources ~/.bashrc when its stdin is a socket (as Node's stdio
// pipes are), so an agent that edits its shell startup files could run code in every shell Hangar
// starts in its sandbox: the checkpoint tar, the CLI launches of the other sessions of a shared
// sandbox, resumed CLIs. The real agent plants ~/.bashrc, ~/.bash_profile and ~/.profile that
// record every shell that reads them into the sandbox's /tmp (its $0 names Hangar's launches:
// hangar-launcher, hangar-bridges); then Hangar checkpoints the turn, starts a second session's CLI
// in the same sandbox, and wakes the session in sandboxes of its own: checkpoints hold HOME, so each
// wake restores the files (while the resumed CLI starts) and the next checkpoint tars them again.
// None of Hangar's shells may read them. The log is in /tmp, which no checkpoint holds, so a restore
// cannot overwrite what a shell of that sandbox logged.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/client/hangar-client.js';
import { createLocalSandboxProvider, type LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import { startHarness, toolResultsSent, waitForTurns, type Harness } from '../helpers/hangar-harness.js';
import { makeSandboxRoot } from '../helpers/sandbox-host.js';

const bash = (command: string, match: string) => ({
  match: { lastUserText: match },
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step' } }],
});
/** A text reply with no match: taken by the next request none of the earlier replies fit (a tool's result). */
const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

/** Startup files that log who read them into the shared workspace. */
const PLANT = [
  `line='echo "rc-ran 0=$0 exec=\${BASH_EXECUTION_STRING:0:40}" >> /tmp/.rc-log'`,
  'for f in ~/.bashrc ~/.bash_profile ~/.profile; do printf "%s\\n" "$line" > "$f"; done',
  'cat ~/.bashrc',
  'echo planted',
].join(' && ');
const PROBE = 'cat /tmp/.rc-log 2>/dev/null; echo log-end';
/** After a wake the files are back (the checkpoint holds HOME); the log of this sandbox so far. */
const CHECK = `grep -l rc-ran ~/.bashrc ~/.bash_profile ~/.profile && echo restored; ${PROBE}`;

/** The lines of a probe's output that a shell Hangar started wrote. */
const hangarShells = (log: string): string[] => log.split('\n').filter((line) => /rc-ran 0=hangar/.test(line));

describe("attack: shell startup files against Hangar's own launches", () => {
  let harness: Harness;
  let sharedLog: string;
  let resumedLog: string;
  let firstWakeLog: string;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
    harness.model.setScenario({
      replies: [
        bash(PLANT, 'seed shared'),
        say('planted'),
        bash(PROBE, 'probe shared'),
        say('probed'),
        bash(PLANT, 'seed own'),
        say('planted'),
        bash(CHECK, 'again own'),
        say('checked'),
        bash(PROBE, 'probe own'),
        say('probed'),
      ],
    });
    // A shared sandbox: session A plants the files; its turn is checkpointed (tar); session B's CLI
    // starts in the same sandbox and reads the log.
    const shared = await harness.client.call<{ id: string }>('POST', '/v1/sandboxes', { resources: { memoryMb: 1024, cpus: 1, diskMb: 256 } });
    const planter = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], sandboxId: shared.id, prompt: 'seed shared' });
    await waitForTurns(harness.client, planter.id, 1);
    const prober = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], sandboxId: shared.id, prompt: 'probe shared' });
    await waitForTurns(harness.client, prober.id, 1);
    sharedLog = toolResultsSent(harness.model).at(-1) ?? '';
    await harness.client.closeSession(prober.id);
    await harness.client.closeSession(planter.id);

    // A long-running session of its own: planted, checkpointed, hibernated, woken (a resumed CLI
    // and a restore tar in a new sandbox that brings the files back), checkpointed with them again,
    // and woken once more.
    const own = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'seed own', idleTimeoutSec: 600 });
    await waitForTurns(harness.client, own.id, 1);
    expect((await harness.client.call<SessionView>('POST', `/v1/sessions/${own.id}/hibernate`)).status).toBe('hibernated');
    await harness.client.sendMessage(own.id, 'again own');
    await waitForTurns(harness.client, own.id, 2);
    firstWakeLog = toolResultsSent(harness.model).at(-1) ?? '';
    expect((await harness.client.call<SessionView>('POST', `/v1/sessions/${own.id}/hibernate`)).status).toBe('hibernated');
    await harness.client.sendMessage(own.id, 'probe own');
    await waitForTurns(harness.client, own.id, 3);
    resumedLog = toolResultsSent(harness.model).at(-1) ?? '';
    await harness.client.closeSession(own.id);
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('plants the files (the agent may run them in its own shells)', () => {
    const results = toolResultsSent(harness.model);
    expect(results.filter((result) => result.includes('planted') && result.includes('rc-ran'))).toHaveLength(2);
    // The wake brought the three files back with HOME.
    expect(firstWakeLog).toContain('restored');
    expect(firstWakeLog.match(/\.(bashrc|bash_profile|profile)\n/g)).toHaveLength(3);
    expect(sharedLog).toContain('log-end');
    expect(resumedLog).toContain('log-end');
    expect(harness.model.requests.filter((request) => request.kind === 'main' && request.outcome !== 'message').map((request) => request.outcome)).toEqual([]);
  });

  it("never runs them in a checkpoint tar or in another session's CLI launch in a shared sandbox", () => {
    expect(hangarShells(sharedLog)).toEqual([]);
  });

  it('never runs them in the restore, the resumed CLI launch or the checkpoints of a woken session', () => {
    expect(firstWakeLog).toContain('log-end');
    expect(hangarShells(firstWakeLog)).toEqual([]);
    expect(hangarShells(resumedLog)).toEqual([]);
  });
});

describe('attack: shell startup files against every kind of launch of the local provider', () => {
  it('reads none of them in a warm launcher, a fresh launcher with a directory to copy in, a bridged launch or an exec', async () => {
    const rootDir = await makeSandboxRoot();
    const socketDir = await mkdtemp(path.join(tmpdir(), 'hangar-rc-bridge-'));
    await chmod(socketDir, 0o711);
    const socketPath = path.join(socketDir, 'gw.sock');
    const server = net.createServer((socket) => socket.on('error', () => undefined).end());
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    await chmod(socketPath, 0o666);
    const copied = await mkdtemp('/tmp/claude-resume-rc-');
    const provider = createLocalSandboxProvider({ rootDir, warmPoolSize: 1 });
    const resources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 };
    const bridges = [{ name: 'gw', hostSocketPath: socketPath, port: 4300 }];
    const run = async (sandbox: LocalSandbox, request: Parameters<LocalSandbox['spawn']>[0]): Promise<number | null> => {
      const child = sandbox.spawn(request);
      child.stdout.resume();
      child.stdin.end();
      return new Promise((resolve) => child.once('close', (code: number | null) => resolve(code)));
    };
    try {
      await (await provider.create({ resources, bridges })).destroy();
      await provider.settled();
      const sandbox = await provider.create({ resources, bridges });
      expect(sandbox.warmLauncherReady).toBe(true);
      const plant = `for f in ~/.bashrc ~/.bash_profile ~/.profile; do echo 'echo "rc-ran 0=$0" >> /workspace/.rc-log' > "$f"; done`;
      // An exec (a bridged launch with a socket for stdin) plants the files.
      expect((await sandbox.exec('sh', ['-c', plant], { env: { HOME: '/home/agent' } })).exitCode).toBe(0);
      const env = { HOME: '/home/agent' };
      expect(await run(sandbox, { command: 'true', args: [], env })).toBe(0); // the warm launcher
      expect(await run(sandbox, { command: 'true', args: [], env, copyIntoTmp: copied })).toBe(0); // a fresh launcher
      expect(await run(sandbox, { command: 'true', args: [], env, auxiliary: true })).toBe(0); // a bridged launch
      expect((await sandbox.exec('true', [], { env })).exitCode).toBe(0);
      // The agent's own interactive shell does read them: the files work, Hangar's shells skip them.
      expect((await sandbox.exec('bash', ['-i', '-c', 'true'], { env })).exitCode).toBe(0);
      const log = (await sandbox.exec('cat', ['/workspace/.rc-log'])).stdout;
      expect(log).toContain('rc-ran 0=bash');
      expect(log.split('\n').filter((line) => line.includes('0=hangar'))).toEqual([]);
      await sandbox.destroy();
    } finally {
      await provider.close();
      server.close();
      await rm(socketDir, { recursive: true, force: true });
      await rm(copied, { recursive: true, force: true });
      await rm(rootDir, { recursive: true, force: true });
    }
  });
});
