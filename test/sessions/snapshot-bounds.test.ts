// A tar that misbehaves cannot make a snapshot harm the host: endless data stops at the byte cap,
// a stalled or slow tar is killed at the time limit, garbage and decompression bombs fail the host
// verification, and every failure leaves no blob (not even a temp file) behind. Restores are
// time-limited too. The "tar" here is a host shell script (test/helpers/host-process-sandbox.ts).
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confinedCommand, verifySnapshotArchive } from '../../src/sessions/snapshot-verifier.js';
import { restoreSandboxState, snapshotLimits, snapshotSandboxState, type SnapshotLimits } from '../../src/sessions/workspace-snapshots.js';
import { createLocalBlobStore } from '../../src/store/blobs/local.js';
import { hostProcessSandbox } from '../helpers/host-process-sandbox.js';

const MIB = 1024 * 1024;

async function filesUnder(directory: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else found.push(path.relative(directory, full));
    }
  };
  await walk(directory);
  return found;
}

describe('snapshot limits', () => {
  it('default to twice what the workspace and HOME (a disk limit each) hold, unpacked bytes with room for headers, and take a configured cap', () => {
    expect(snapshotLimits({ snapshotTimeoutMs: 1000 }, 256)).toEqual({ maxBytes: 1024 * MIB, maxUnpackedBytes: 1088 * MIB, timeoutMs: 1000 });
    expect(snapshotLimits({ maxSnapshotBytes: 10 * MIB, snapshotTimeoutMs: 5 }, 256)).toEqual({
      maxBytes: 10 * MIB,
      maxUnpackedBytes: 1088 * MIB,
      timeoutMs: 5,
    });
  });

  it('run the verifier under rlimits, as nobody without new privileges when root', () => {
    const argv = confinedCommand(['zstd', '-d'], 2500, true);
    expect(argv.slice(0, argv.indexOf('--'))).toEqual(['prlimit', expect.stringMatching(/^--as=\d+$/), '--cpu=3', '--fsize=0', '--nofile=32', '--core=0']);
    expect(argv).toEqual(expect.arrayContaining(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs']));
    expect(argv.slice(-2)).toEqual(['zstd', '-d']);
    expect(confinedCommand(['tar'], 1000, false)).not.toContain('setpriv');
  });
});

describe('workspace snapshots made by a misbehaving tar', () => {
  let root: string;
  let blobDir: string;
  let workspace: string;
  let home: string;
  const limits: SnapshotLimits = { maxBytes: 2 * MIB, maxUnpackedBytes: 8 * MIB, timeoutMs: 3_000 };

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'hangar-snapshot-bounds-'));
    blobDir = path.join(root, 'blobs');
    workspace = path.join(root, 'workspace');
    home = path.join(root, 'home');
    await mkdir(path.join(workspace, 'src'), { recursive: true });
    await mkdir(path.join(home, '.claude'), { recursive: true });
    await writeFile(path.join(workspace, 'src', 'main.ts'), 'export const answer = 42;\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const snapshot = (script: string, key: string, override: Partial<SnapshotLimits> = {}) =>
    snapshotSandboxState(
      hostProcessSandbox(() => script, workspace, home),
      createLocalBlobStore({ directory: blobDir }),
      key,
      { ...limits, ...override },
      { homeExcludes: [] },
    );

  it('stores and verifies a real archive of the workspace and HOME', async () => {
    const { sizeBytes, sha256 } = await snapshot('exec tar "$@"', 'good/one');
    expect(sizeBytes).toBeGreaterThan(0);
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await filesUnder(blobDir)).toEqual(['good/one']);
  });

  it('stops endless incompressible output at the byte cap and stores nothing', async () => {
    const sandbox = hostProcessSandbox(() => 'exec cat /dev/urandom', workspace);
    const failure = snapshotSandboxState(sandbox, createLocalBlobStore({ directory: blobDir }), 'bad/endless', limits, { homeExcludes: [] });
    await expect(failure).rejects.toMatchObject({ code: 'CHECKPOINT_FAILED', details: { reason: 'too_large' } });
    expect(sandbox.children[0]!.signalCode).toBe('SIGKILL');
    expect(await filesUnder(blobDir)).toEqual(['good/one']);
  });

  it('kills a tar that outputs highly compressible data forever at the time limit', async () => {
    await expect(snapshot('yes | zstd -q -c', 'bad/slow', { timeoutMs: 1_500 })).rejects.toMatchObject({
      code: 'CHECKPOINT_FAILED',
      details: { reason: 'timeout' },
    });
    expect(await filesUnder(blobDir)).toEqual(['good/one']);
  });

  it('kills a tar that writes nothing and never exits', async () => {
    await expect(snapshot('exec sleep 600', 'bad/stalled', { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'CHECKPOINT_FAILED',
      details: { reason: 'timeout' },
    });
    expect(await filesUnder(blobDir)).toEqual(['good/one']);
  });

  it('refuses garbage, a zstd stream that is not a tar, and a decompression bomb', async () => {
    await expect(snapshot('head -c 100000 /dev/urandom', 'bad/garbage')).rejects.toMatchObject({ code: 'CHECKPOINT_FAILED', details: { reason: 'invalid' } });
    await expect(snapshot('head -c 100000 /dev/urandom | zstd -q -c', 'bad/not-tar')).rejects.toMatchObject({
      code: 'CHECKPOINT_FAILED',
      details: { reason: 'invalid' },
    });
    // 64 MiB of zeros compress to a few KiB: the verifier stops at 8 MiB unpacked.
    await expect(snapshot('head -c 67108864 /dev/zero | zstd -q -c', 'bad/bomb')).rejects.toMatchObject({
      code: 'CHECKPOINT_FAILED',
      details: { reason: 'too_large' },
    });
    // A valid archive cut short.
    await expect(snapshot('tar "$@" | head -c 40', 'bad/truncated')).rejects.toMatchObject({ code: 'CHECKPOINT_FAILED' });
    expect(await filesUnder(blobDir)).toEqual(['good/one']);
  });

  it('fails when tar exits non-zero or writes nothing', async () => {
    await expect(snapshot('tar "$@"; exit 2', 'bad/exit')).rejects.toMatchObject({ code: 'CHECKPOINT_FAILED', details: { reason: 'tar_failed' } });
    await expect(snapshot('exit 0', 'bad/empty')).rejects.toMatchObject({ code: 'CHECKPOINT_FAILED', details: { reason: 'tar_failed' } });
    expect(await filesUnder(blobDir)).toEqual(['good/one']);
  });

  it('kills a restore that does not finish in time', async () => {
    const sandbox = hostProcessSandbox(() => 'exec sleep 600', workspace);
    await expect(restoreSandboxState(sandbox, createLocalBlobStore({ directory: blobDir }), 'good/one', 2, 1_000)).rejects.toMatchObject({
      code: 'SANDBOX_FAILED',
    });
    expect(sandbox.children[0]!.signalCode).toBe('SIGKILL');
  });
});

describe('the host verifier', () => {
  it('fails a stream that never ends at its time limit', async () => {
    const endless = new Readable({ read() {} });
    await expect(verifySnapshotArchive(endless, { maxUnpackedBytes: MIB, timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'CHECKPOINT_FAILED',
      details: { reason: 'timeout' },
    });
  });

  it('fails an empty stream', async () => {
    await expect(verifySnapshotArchive(Readable.from([]), { maxUnpackedBytes: MIB, timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'CHECKPOINT_FAILED' });
  });
});
