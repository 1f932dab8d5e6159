// Attack (issue 7, finding 6): an agent tries to hold its task forever. It stops the sandbox's
// pid 1 with ptrace (which used to leave the CLI a zombie and the task "running"), and leaves
// behind an interactive shell, a detached sleeper, a stopped process and a Bash tool command
// running in the background. The task must end at the CLI's result, recorded as what it was, with
// every process of the sandbox gone; the test's own timeout is far below the sleepers' lifetime.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import type { LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';

const bash = (command: string, extra: Record<string, unknown> = {}) => ({
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step', ...extra } }],
});

const PTRACE_PID1 = `python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
result = libc.ptrace(16, 1, 0, 0)
print("ptrace-attach-pid1", result, os.strerror(ctypes.get_errno()))
'`;
const LEAVE_BEHIND = [
  '(setsid bash -i </dev/null >/dev/null 2>&1 &)',
  '(setsid nohup sleep 100000 >/dev/null 2>&1 </dev/null &)',
  'sleep 100001 & kill -STOP $!',
  'echo left-behind',
].join('; ');

/** Host processes running as a uid, zombies aside (an exited process waits for its parent's wait()). */
function processesOf(uid: number): string[] {
  const lines = execFileSync('ps', ['-eo', 'uid=,pid=,stat=,comm='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => {
    const [owner, , state] = line.trim().split(/\s+/);
    return Number(owner) === uid && !state?.startsWith('Z');
  });
}

describe('attack: holding a task forever', () => {
  let harness: Harness;
  let task: TaskView;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
    harness.model.setScenario({
      replies: [
        bash(PTRACE_PID1),
        bash(LEAVE_BEHIND),
        bash('sleep 100002', { run_in_background: true }),
        { content: [{ type: 'text' as const, text: 'done holding' }] },
      ],
    });
    task = await harness.client.runTask({ prompt: 'Hold the task.', allowedTools: ['Bash'], maxTurns: 8 });
  }, 150_000);

  afterAll(async () => {
    await harness?.close();
  });

  it("cannot trace the sandbox's pid 1", () => {
    expect(toolResultsSent(harness.model)[0]).toMatch(/ptrace-attach-pid1 -1 Operation not permitted/);
  });

  it("ends the task at the CLI's result, recorded as it was", () => {
    expect(toolResultsSent(harness.model)[1]).toContain('left-behind');
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('done holding');
  });

  it('leaves no process of the sandbox behind', async () => {
    const sandbox = harness.sandboxes.get(task.sandbox!.sandboxId)!.sandbox as LocalSandbox;
    expect(await sandbox.hostPids().catch(() => [])).toEqual([]);
    expect(processesOf(sandbox.hostUid)).toEqual([]);
  });
});
