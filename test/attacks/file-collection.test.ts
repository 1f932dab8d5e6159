// Attack (issue 7, findings 4 and 7): a hostile agent fills its workspace with files that used to make
// Hangar's file collection read gigabytes on its event loop (sparse files, one over 2 GiB), fail the
// whole task (a name that is not UTF-8, a file over 2 GiB), block (a FIFO) or follow a link out of the
// workspace. The real CLI runs the attack with Bash inside the real sandbox; the task must succeed with
// every file reported safely while Hangar's memory stays far below the attack's size and /healthz answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';
import { watchHost, type HostWatch } from '../helpers/host-watch.js';

const MIB = 1024 * 1024;
const SPARSE_FILES = 6;
/** Hangar's RSS may grow this much during the task: the attack is 11+ GiB of apparent file data. */
const RSS_GROWTH_BOUND = 400 * MIB;

const bash = (command: string) => ({ content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'stage files', timeout: 120000 } }] });

const ATTACK = [
  `for i in $(seq 1 ${SPARSE_FILES}); do truncate -s 1900M sparse-$i.img; done`,
  'truncate -s 2200M over-2gib.img',
  `printf 'named badly' > "$(printf 'bad-\\377\\376-name.txt')"`,
  'mkfifo pipe',
  'ln -s /etc/passwd passwd-link',
  'mkdir -p src/deep && ln -s /etc src/etc-link',
  'for i in 1 2 3; do echo "normal $i" > src/normal-$i.txt; done',
  'printf "changed seed\\n" > seed.txt',
  'ls -ls --block-size=1 . | head -20',
].join(' && ');

describe('attack: file collection of a hostile workspace', () => {
  let harness: Harness;
  let task: TaskView;
  let watch: HostWatch;
  let lastModelRequestAt = 0;
  let taskEndedAt = 0;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [bash(ATTACK), { content: [{ type: 'text', text: 'workspace staged' }] }] } });
    await harness.settled();
    watch = watchHost(harness.baseUrl, { probeEveryMs: 50 });
    try {
      task = await harness.client.runTask({
        prompt: 'Stage the workspace.',
        allowedTools: ['Bash'],
        maxTurns: 4,
        resources: { memoryMb: 512, diskMb: 64, cpus: 1 },
        files: { 'seed.txt': 'seed\n', 'kept.txt': 'untouched\n' },
      });
      taskEndedAt = Date.now();
    } finally {
      await watch.stop();
    }
    const mainRequests = harness.model.requests.filter((request) => request.kind === 'main');
    lastModelRequestAt = Date.parse(mainRequests.at(-1)?.time ?? '') || 0;
    const afterRun = watch.probes.filter((probe) => probe.at >= lastModelRequestAt);
    // Measurements for the record (no timing assertions on a shared machine).
    console.log(
      `file-collection attack: task ${task.durationMs} ms, after last model request ${taskEndedAt - lastModelRequestAt} ms; ` +
        `RSS baseline ${(watch.baselineRss / MIB).toFixed(0)} MiB, peak ${(watch.peakRss / MIB).toFixed(0)} MiB; ` +
        `/healthz ${watch.probes.length} probes, max ${Math.max(0, ...watch.probes.map((probe) => probe.latencyMs))} ms, ` +
        `${afterRun.length} after the run (max ${Math.max(0, ...afterRun.map((probe) => probe.latencyMs))} ms); ` +
        `collection ${JSON.stringify(task.sandbox?.fileCollection)}`,
    );
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('runs the attack inside the sandbox and the task succeeds', () => {
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('workspace staged');
    expect(toolResultsSent(harness.model).join('\n')).toContain('sparse-1.img');
  });

  it('reports the normal files with their content and the untouched ones not at all', () => {
    const byPath = new Map(task.files.map((file) => [file.path, file]));
    for (const index of [1, 2, 3]) {
      expect(byPath.get(`src/normal-${index}.txt`)).toMatchObject({ change: 'created', content: `normal ${index}\n`, encoding: 'utf8' });
    }
    expect(byPath.get('seed.txt')).toMatchObject({ change: 'modified', content: 'changed seed\n' });
    expect(byPath.has('kept.txt')).toBe(false);
  });

  it('reports sparse and over-2-GiB files from their metadata, without content', () => {
    const byPath = new Map(task.files.map((file) => [file.path, file]));
    const big = [
      ...Array.from({ length: SPARSE_FILES }, (_, index) => [`sparse-${index + 1}.img`, 1900 * MIB] as const),
      ['over-2gib.img', 2200 * MIB] as const,
    ];
    for (const [name, size] of big) {
      const file = byPath.get(name);
      expect(file, name).toMatchObject({ change: 'created', sizeBytes: size, contentOmitted: 'too-large' });
      expect(file?.content).toBeUndefined();
      expect(file?.allocatedBytes).toBeLessThan(MIB);
    }
  });

  it('reports the name that is not UTF-8 with its raw bytes, and its content', () => {
    const raw = Buffer.concat([Buffer.from('bad-'), Buffer.of(0xff, 0xfe), Buffer.from('-name.txt')]);
    const file = task.files.find((candidate) => candidate.pathBase64 !== undefined);
    expect(file).toMatchObject({ path: 'bad-\uFFFD\uFFFD-name.txt', change: 'created', content: 'named badly' });
    expect(Buffer.from(file?.pathBase64 ?? '', 'base64').equals(raw)).toBe(true);
  });

  it('never follows a symlink nor reports a FIFO', () => {
    const paths = task.files.map((file) => file.path);
    for (const skipped of ['pipe', 'passwd-link', 'src/etc-link']) expect(paths).not.toContain(skipped);
    expect(paths.some((name) => name.startsWith('src/etc-link/'))).toBe(false);
    for (const file of task.files) expect(file.content ?? '').not.toContain('root:x:0:0');
    expect(task.files).toHaveLength(SPARSE_FILES + 1 + 1 + 3 + 1);
    expect(task.files.every((file) => file.error === undefined)).toBe(true);
  });

  it('reads only what the workspace really holds, with Hangar memory far below the attack size', () => {
    expect(task.sandbox?.fileCollection).toMatchObject({ truncated: false, aborted: false });
    expect(task.sandbox?.fileCollection?.bytesRead).toBeLessThan(MIB);
    expect(watch.peakRss - watch.baselineRss).toBeLessThan(RSS_GROWTH_BOUND);
  });

  it('kept /healthz answering throughout', () => {
    expect(watch.probes.length).toBeGreaterThan(0);
    expect(watch.probes.filter((probe) => probe.status !== 200)).toEqual([]);
  });
});

describe('attack: more entries than the cap, and directories nested deeper than the scan goes', () => {
  let harness: Harness;
  let task: TaskView;

  beforeAll(async () => {
    const flood = [
      'mkdir flood && cd flood && seq 1 3000 | xargs touch && cd ..',
      `mkdir -p "$(printf 'deep/%.0s' $(seq 1 200))" && echo bottom > "$(printf 'deep/%.0s' $(seq 1 200))bottom.txt"`,
      'echo visible > visible.txt',
      'ls flood | wc -l',
    ].join(' && ');
    harness = await startHarness({
      scenario: { replies: [bash(flood), { content: [{ type: 'text', text: 'flooded' }] }] },
      config: { agent: { maxRetries: 2, fileCollection: { maxEntries: 500 } } },
    });
    task = await harness.client.runTask({ prompt: 'Flood the workspace.', allowedTools: ['Bash'], maxTurns: 4, files: { 'seed.txt': 'seed\n' } });
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('succeeds with a truncated list, flagged, and reports no deletions it cannot know', () => {
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(toolResultsSent(harness.model).join('\n')).toContain('3000');
    expect(task.sandbox?.fileCollection).toMatchObject({ truncated: true, aborted: false });
    expect(task.files.length).toBeGreaterThan(0);
    expect(task.files.length).toBeLessThanOrEqual(500);
    expect(task.files.filter((file) => file.change === 'deleted')).toEqual([]);
    expect(task.files.every((file) => file.error === undefined)).toBe(true);
  });
});
