// Attack: a real agent exhausts the inodes of its filesystems through its Bash tool inside the real
// sandbox: empty files until the workspace has no inode left (ENOSPC with blocks to spare), the same
// in HOME and /tmp (the CLI's own filesystem), and a directory tree deeper than PATH_MAX for file
// collection and teardown to walk. The host must not pay: its free inodes are unchanged (the files
// live in the sandbox's own filesystems), /healthz answers throughout, the task ends with a record,
// its file collection is bounded, its sandbox is removed, and Hangar runs the next task normally.
import { existsSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { python, runAgentTask, textReply } from '../helpers/attack-agent.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';
import { watchHost, type HostWatch } from '../helpers/host-watch.js';

const DISK_MB = 256;
/** Inodes of a 256 MiB image (one per 16 KiB, see filesystems/ext4.ts). */
const IMAGE_INODES = (DISK_MB * 1024) / 16;
/** Host inodes other test files running alongside may take meanwhile. */
const HOST_INODE_NOISE = 4000;

/** Creates empty files under <dir> until creation fails (or <limit>); prints the count, the error and the free blocks left. */
const FILL_INODES = String.raw`
import errno, os, sys
root, limit = sys.argv[1], int(sys.argv[2])
count, error = 0, 'none'
try:
    while count < limit:
        sub = os.path.join(root, 'd%d' % (count // 4000))
        if count % 4000 == 0: os.makedirs(sub)
        os.close(os.open(os.path.join(sub, str(count)), os.O_CREAT | os.O_WRONLY, 0o600))
        count += 1
except OSError as e:
    error = errno.errorcode.get(e.errno, str(e.errno))
st = os.statvfs(root)
print('filled', root, 'files', count, 'error', error, 'free_inodes', st.f_favail, 'free_mib', st.f_bavail * st.f_frsize // 1048576)
`;

/** Nests directories 3000 deep (past PATH_MAX) by walking down with relative names; prints the depth reached. */
const DEEP_TREE = String.raw`
import os
os.makedirs('/workspace/deep', exist_ok=True); os.chdir('/workspace/deep')
depth = 0
for _ in range(3000):
    os.mkdir('d'); os.chdir('d'); depth += 1
with open('bottom.txt', 'w') as f: f.write('bottom')
print('deep', depth, len(os.getcwd()))
`;

const freeHostInodes = (dir: string): number => statfsSync(dir).ffree;

describe('attack: inode exhaustion and a tree past PATH_MAX, by a real agent', () => {
  let harness: Harness;
  let task: TaskView;
  let results: string[];
  let watch: HostWatch;
  let hostInodesBefore: number;
  let hostInodesAfter: number;
  let next: TaskView;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
    await harness.settled();
    hostInodesBefore = freeHostInodes(harness.dataDir);
    watch = watchHost(harness.baseUrl, { probeEveryMs: 100 });
    try {
      ({ task, results } = await runAgentTask(
        harness,
        [
          // The deep tree first: once the workspace has no inode left, it could not be made.
          python(DEEP_TREE),
          python(FILL_INODES, `/workspace/flood ${IMAGE_INODES * 2}`),
          python(FILL_INODES, `/tmp/flood ${IMAGE_INODES * 2}`),
          'echo still-running; df -i /workspace /tmp | tail -2',
        ],
        { resources: { memoryMb: 512, diskMb: DISK_MB, cpus: 1 } },
      ));
    } finally {
      await watch.stop();
    }
    hostInodesAfter = freeHostInodes(harness.dataDir);
    // Hangar runs the next task as usual.
    harness.model.setScenario({ replies: [textReply('next task fine')] });
    next = await harness.client.runTask({ prompt: 'Say something.', maxTurns: 1 });
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('fills every inode of the workspace and of HOME and /tmp, with blocks to spare', () => {
    const workspace = /filled \/workspace\/flood files (\d+) error (\w+) free_inodes (\d+) free_mib (\d+)/.exec(results[1] ?? '');
    const scratch = /filled \/tmp\/flood files (\d+) error (\w+) free_inodes (\d+) free_mib (\d+)/.exec(results[2] ?? '');
    expect(workspace, results.join('\n')).not.toBeNull();
    expect(scratch, results.join('\n')).not.toBeNull();
    // The deep tree took 3000 of the workspace's inodes.
    for (const [fill, before] of [
      [workspace!, 3000],
      [scratch!, 0],
    ] as const) {
      expect(fill[2]).toBe('ENOSPC');
      expect(Number(fill[1]) + before).toBeGreaterThan(IMAGE_INODES * 0.9);
      expect(Number(fill[3])).toBe(0);
      expect(Number(fill[4])).toBeGreaterThan(DISK_MB / 2);
    }
    expect(results[0]).toMatch(/^deep 3000 \d{4,}/);
  });

  it('ends the task with a record, its file collection bounded, and the sandbox removed', () => {
    // The CLI can still answer with its own filesystem full: its files exist already.
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('done');
    expect(results[3]).toContain('still-running');
    const collection = (task.sandbox as { fileCollection?: { filesSeen: number; aborted: boolean } } | null)?.fileCollection;
    expect(collection?.aborted).toBe(false);
    expect(task.files.length).toBeLessThanOrEqual(collection!.filesSeen);
    expect(existsSync(path.join(harness.dataDir, 'sandboxes', task.sandbox!.sandboxId))).toBe(false);
  });

  it('costs the host no inodes, and Hangar answered /healthz throughout and runs the next task', () => {
    // Two images' worth of files were made; the host lost none of them (other test files may use a few).
    expect(hostInodesBefore - hostInodesAfter).toBeLessThan(HOST_INODE_NOISE);
    expect(IMAGE_INODES * 2).toBeGreaterThan(HOST_INODE_NOISE * 4);
    expect(watch.probes.length).toBeGreaterThan(0);
    expect(watch.probes.filter((probe) => probe.status !== 200)).toEqual([]);
    expect(next.status).toBe('succeeded');
    expect(next.result).toBe('next task fine');
  });
});
