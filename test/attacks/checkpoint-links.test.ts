// Attack: a real agent leaves its workspace full of things for Hangar's checkpoint, restore and file
// collection to trip over, through its Bash tool inside the real sandbox: a 1 MiB random file
// hardlinked 2000 times (2 GiB to anyone who follows names), symlinks to the host's root, to
// /etc/shadow, to Hangar's database path and to a directory above the workspace, a symlink loop, a
// FIFO, a unix socket, and a path longer than tar's classic header. A long-running session is
// checkpointed with them, hibernated and woken in a new sandbox: the checkpoint must hold the data
// once, the restore must bring back links as links (never what they point to) and the FIFO as a
// FIFO, and the host must be unchanged. A task with the same workspace must read no more than its
// file collection budget.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointView, SessionView, TaskView } from '../../src/client/hangar-client.js';
import { hostFacts, runAgentTask, type HostFacts } from '../helpers/attack-agent.js';
import { startHarness, toolResultsSent, waitForTurns, type Harness } from '../helpers/hangar-harness.js';

const MIB = 1024 * 1024;
const LINKS = 2000;
/** Hangar's file collection reads at most this much per task (agent.fileCollection.readBudgetBytes default). */
const READ_BUDGET = 64 * MIB;

const bash = (command: string, match: string) => ({
  match: { lastUserText: match },
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step', timeout: 120000 } }],
});
const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

function plant(dataDir: string): string {
  return [
    'cd /workspace',
    'head -c 1M /dev/urandom > big.bin && mkdir links',
    `python3 -c "import os; [os.link('big.bin', 'links/l%d' % i) for i in range(1, ${LINKS + 1})]"`,
    `ln -s / host-root; ln -s /etc/shadow shadow; ln -s ${path.join(dataDir, 'hangar.db')} db; ln -s ../.. up; ln -s loop loop`,
    'mkfifo pipe',
    `python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('/workspace/sock')"`,
    'long=$(printf "d%.0s" $(seq 1 120)); mkdir -p "$long/$long" && echo deep > "$long/$long/file.txt"',
    'echo "planted $(stat -c %h big.bin) $(sha256sum big.bin | cut -c1-16)"',
  ].join('\n');
}

/** Prints, after the restore, what came back. */
const CHECK = [
  'cd /workspace',
  `echo "links $(stat -c %h big.bin) $(ls links | wc -l) $(sha256sum links/l${LINKS} | cut -c1-16)"`,
  'for l in host-root shadow db up loop; do if test -L $l; then echo "symlink $l -> $(readlink $l)"; else echo "NOT-A-LINK $l $(stat -c %F $l 2>&1)"; fi; done',
  'test -p pipe && echo "fifo kept"; test -S sock && echo "socket kept" || echo "socket not kept"',
  'cat "$(printf "d%.0s" $(seq 1 120))/$(printf "d%.0s" $(seq 1 120))/file.txt"',
  'echo "workspace MiB $(du -sm . | cut -f1)"',
].join('\n');

describe('attack: hardlinks, symlinks, FIFOs and sockets against checkpoint, restore and file collection', () => {
  let harness: Harness;
  let session: SessionView;
  let checkpoints: CheckpointView[];
  let planted: string;
  let checked: string;
  let before: HostFacts;
  let after: HostFacts;
  let task: TaskView;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
    before = hostFacts();
    harness.model.setScenario({ replies: [bash(plant(harness.dataDir), 'plant'), say('planted'), bash(CHECK, 'check'), say('checked')] });
    const created = await harness.client.createSession({
      pattern: 'long-running',
      allowedTools: ['Bash'],
      prompt: 'plant',
      idleTimeoutSec: 600,
      resources: { memoryMb: 1024, diskMb: 256, cpus: 1 },
    });
    await waitForTurns(harness.client, created.id, 1);
    planted = toolResultsSent(harness.model).at(-1) ?? '';
    expect((await harness.client.hibernateSession(created.id)).status).toBe('hibernated');
    // The wake restores the checkpoint in a new sandbox.
    await harness.client.sendMessage(created.id, 'check');
    session = await waitForTurns(harness.client, created.id, 2);
    checked = toolResultsSent(harness.model).at(-1) ?? '';
    checkpoints = await harness.client.listCheckpoints(created.id);
    await harness.client.closeSession(created.id);
    after = hostFacts();

    // The same workspace in a task: its file collection meets 2000 names for one file.
    ({ task } = await runAgentTask(harness, [plant(harness.dataDir)]));
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('planted everything, and the session went on after the wake', () => {
    expect(planted).toMatch(new RegExp(`^planted ${LINKS + 1} [0-9a-f]{16}$`, 'm'));
    expect(session.turns).toBe(2);
    expect(session.error ?? null).toBeNull();
    expect(checked).toContain('workspace MiB');
  });

  it('stores the hardlinked data once: the checkpoint is about the size of one copy', () => {
    const first = checkpoints.find((checkpoint) => checkpoint.turn === 1);
    expect(first, JSON.stringify(checkpoints)).toBeDefined();
    expect(first!.sizeBytes).toBeGreaterThan(MIB);
    expect(first!.sizeBytes).toBeLessThan(4 * MIB);
  });

  it('restores hardlinks as hardlinks and symlinks as symlinks, never what they point to; the FIFO stays a FIFO', () => {
    const digest = /^planted \d+ ([0-9a-f]{16})$/m.exec(planted)![1];
    expect(checked).toContain(`links ${LINKS + 1} ${LINKS} ${digest}`);
    for (const [link, target] of [
      ['host-root', '/'],
      ['shadow', '/etc/shadow'],
      ['db', path.join(harness.dataDir, 'hangar.db')],
      ['up', '../..'],
      ['loop', 'loop'],
    ]) {
      expect(checked).toContain(`symlink ${link} -> ${target}\n`);
    }
    expect(checked).not.toContain('NOT-A-LINK');
    expect(checked).toContain('fifo kept');
    expect(checked).toContain('deep');
    // One copy of the data (1 MiB) and the rest: nothing of the host came in through a link.
    expect(Number(/workspace MiB (\d+)/.exec(checked)![1])).toBeLessThan(8);
  });

  it('left the host unchanged: its secret and setuid files', () => {
    expect(after).toEqual(before);
  });

  it("keeps a task's file collection within its read budget", () => {
    expect(task.status).toBe('succeeded');
    const collection = (task.sandbox as { fileCollection?: { filesSeen: number; bytesRead: number; aborted: boolean } } | null)?.fileCollection;
    expect(collection?.filesSeen).toBeGreaterThanOrEqual(LINKS + 1);
    expect(collection!.bytesRead).toBeLessThanOrEqual(READ_BUDGET);
    expect(collection!.aborted).toBe(false);
    // Links and special files are reported as what they are, never followed.
    const paths = task.files.map((file) => file.path);
    expect(paths).not.toContain('host-root/etc/passwd');
    for (const file of task.files) expect(file.content ?? '').not.toMatch(/^root:/);
  });
});
