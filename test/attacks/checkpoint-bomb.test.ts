// Attack (issue 7, finding 3's checkpoint half): a hostile agent fills its workspace, within its
// disk limit, with highly compressible data (zeros), incompressible data (random bytes) beyond the
// snapshot cap, and a huge sparse file, and plants shell startup files that would make any shell
// Hangar starts in the sandbox emit 1.5 GB of zeros. The real CLI runs the attack with Bash inside
// the real sandbox. The checkpoint after that turn must fail cleanly: the session reports it, its
// previous checkpoint stays the one it resumes from (workspace and conversation), no blob over the
// cap is ever on disk (sampled during the attack), nothing is left in the blob store's temp
// directory, and the session continues from the kept checkpoint.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEventView, SessionView } from '../../src/client/hangar-client.js';
import { eventually, startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';

const MIB = 1024 * 1024;
const SNAPSHOT_CAP = 32 * MIB;
const DISK_MB = 256;
/** Hangar's RSS may grow this much during the attack turn (the workspace holds 164 MiB of data, tar would emit 1.5 GB). */
const RSS_GROWTH_BOUND = 200 * MIB;

const bash = (command: string, match: string) => ({
  match: { lastUserText: match },
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step', timeout: 300000 } }],
});
const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

const STAGE = 'mkdir -p src && echo "good state" > src/state.txt && echo staged';
const ATTACK = [
  // Shell startup files that would turn any shell Hangar starts here into an endless-zeros source.
  'for f in ~/.bashrc ~/.bash_profile ~/.profile; do printf "head -c 1500M /dev/zero; exit 0\\n" > "$f"; done',
  // Compressible: 100 MiB of zeros; incompressible: 64 MiB of random bytes (twice the cap); sparse: 50 GiB apparent.
  'dd if=/dev/zero of=zeros.bin bs=1M count=100 status=none',
  'dd if=/dev/urandom of=random.bin bs=1M count=64 status=none',
  'truncate -s 50G sparse.img',
  'sync',
  'du -sm --apparent-size . && du -sm . && df -m . | tail -1',
].join(' && ');

/** Files under a directory with their sizes (relative paths). */
async function filesWithSizes(root: string): Promise<Array<{ file: string; size: number }>> {
  const found: Array<{ file: string; size: number }> = [];
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const size = await stat(full).then(
          (stats) => stats.size,
          () => 0,
        );
        found.push({ file: path.relative(root, full), size });
      }
    }
  };
  await walk(root);
  return found;
}

describe('attack: a checkpoint bomb', () => {
  let harness: Harness;
  let blobRoot: string;
  let sessionId: string;
  let good: SessionView;
  let afterAttack: SessionView;
  const events: SessionEventView[] = [];
  let peakBlobBytes = 0;
  let peakFileBytes = 0;
  let samples = 0;
  let baselineRss = 0;
  let peakRss = 0;

  beforeAll(async () => {
    harness = await startHarness({
      scenario: {
        replies: [
          bash(STAGE, 'stage'),
          say('Staged.'),
          bash(ATTACK, 'attack'),
          say('Workspace filled.'),
          bash('ls -a ~ . && cat src/state.txt', 'after'),
          say('Back at the good state.'),
        ],
      },
      config: { sessions: { maxSnapshotBytes: SNAPSHOT_CAP } },
    });
    blobRoot = path.join(harness.dataDir, 'blobs');
    const session = await harness.client.createSession({
      pattern: 'long-running',
      allowedTools: ['Bash'],
      prompt: 'stage',
      idleTimeoutSec: 3600,
      resources: { memoryMb: 1024, diskMb: DISK_MB, cpus: 1 },
    });
    sessionId = session.id;
    const turnsDone = (turns: number) =>
      eventually(
        async () => {
          const current = await harness.client.getSession(sessionId);
          const messages = await harness.client.listMessages(sessionId);
          return messages.length >= turns &&
            messages.slice(0, turns).every((message) => message.status !== 'queued' && message.status !== 'running') &&
            current.status !== 'running'
            ? current
            : undefined;
        },
        240_000,
        `${turns} turns`,
      );
    good = await turnsDone(1);

    // Host disk use of the blob store and Hangar's memory, sampled through the attack turn and its checkpoint.
    baselineRss = process.memoryUsage().rss;
    peakRss = baselineRss;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const files = await filesWithSizes(blobRoot);
        peakBlobBytes = Math.max(
          peakBlobBytes,
          files.reduce((total, entry) => total + entry.size, 0),
        );
        peakFileBytes = Math.max(peakFileBytes, ...files.map((entry) => entry.size));
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        samples += 1;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    await harness.client.sendMessage(sessionId, 'attack');
    afterAttack = await turnsDone(2);
    sampling = false;
    await sampler;

    await harness.client.sendMessage(sessionId, 'after');
    await turnsDone(3);
    await harness.client.readEvents(sessionId, {
      follow: false,
      onEvent: (event) => {
        events.push(event);
      },
    });
  }, 600_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('staged a good checkpoint, then filled the workspace beyond the cap within its disk limit', () => {
    expect(good.checkpoint).toMatchObject({ turn: 1 });
    const results = toolResultsSent(harness.model);
    expect(results[0]).toContain('staged');
    // du of apparent size counts the sparse file's 50 GiB; the disk holds only the written data.
    const [apparent, used] = results[1]!.split('\n').map((line) => Number(line.split(/\s+/)[0]));
    expect(apparent).toBeGreaterThan(50_000);
    expect(used).toBeGreaterThan(160);
    expect(used).toBeLessThan(DISK_MB);
  });

  it('fails the checkpoint cleanly and reports it', () => {
    const failed = events.find((event) => event.type === 'checkpoint_failed');
    expect(failed?.data).toMatchObject({ error: { code: 'CHECKPOINT_FAILED' }, details: { reason: 'too_large' }, keptCheckpointId: good.checkpoint!.id });
    expect(events.some((event) => event.type === 'turn_failed' && (event.data as { error: { code: string } }).error.code === 'CHECKPOINT_FAILED')).toBe(true);
    expect(afterAttack.turns).toBe(1);
    expect(afterAttack.checkpoint?.id).toBe(good.checkpoint!.id);
    expect(afterAttack.error).toMatchObject({ code: 'CHECKPOINT_FAILED' });
  });

  it('never had a blob over the cap on the host disk, and left no partial blob', async () => {
    expect(samples).toBeGreaterThan(0);
    expect(peakFileBytes).toBeLessThanOrEqual(SNAPSHOT_CAP);
    // The good checkpoint plus at most one capped partial.
    expect(peakBlobBytes).toBeLessThanOrEqual(SNAPSHOT_CAP + 2 * MIB);
    const files = await filesWithSizes(blobRoot);
    expect(files.filter((entry) => entry.file.startsWith('.tmp'))).toEqual([]);
    for (const entry of files) expect(entry.size).toBeLessThanOrEqual(SNAPSHOT_CAP);
  });

  it('streamed the snapshot: Hangar held no more than a small multiple of the cap in memory', () => {
    expect(peakRss - baselineRss).toBeLessThan(RSS_GROWTH_BOUND);
  });

  it('continues from the kept checkpoint: the workspace and conversation of turn 1', async () => {
    const listing = toolResultsSent(harness.model)[2]!;
    expect(listing).toContain('good state');
    expect(listing).not.toContain('random.bin');
    expect(listing).not.toContain('zeros.bin');
    const session = await harness.client.getSession(sessionId);
    expect(session.turns).toBe(2);
    expect(session.error).toBeNull();
    const { checkpoints } = await harness.client.call<{ checkpoints: Array<{ turn: number; sizeBytes: number }> }>(
      'GET',
      `/v1/sessions/${sessionId}/checkpoints`,
    );
    expect(checkpoints.map((checkpoint) => checkpoint.turn)).toEqual([2, 1]);
    for (const checkpoint of checkpoints) expect(checkpoint.sizeBytes).toBeLessThan(SNAPSHOT_CAP);
    // The model's request for the turn after the attack carried turn 1, not the attack turn.
    const last = harness.model.requests.filter((request) => request.kind === 'main').at(-1)!;
    expect(JSON.stringify(last.body)).toContain('stage');
    expect(JSON.stringify(last.body)).not.toContain('dd if=/dev/urandom');
  });
});
