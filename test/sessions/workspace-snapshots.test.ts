// Workspace snapshots through real sandboxes and tar: an archive survives a blob store that starts
// reading late (after the tar inside the sandbox has already exited), and restores byte for byte.
import { chmod, rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalSandboxProvider } from '../../src/sandbox/providers/local/index.js';
import { restoreSandboxState, snapshotLimits, snapshotSandboxState } from '../../src/sessions/workspace-snapshots.js';
import type { BlobStore } from '../../src/store/blobs/blob-store.js';
import { createLocalBlobStore } from '../../src/store/blobs/local.js';
import { makeSandboxRoot } from '../helpers/sandbox-host.js';

const resources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 };

describe('workspace snapshots', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('keeps the whole archive when the blob store starts reading after tar has exited', async () => {
    const root = await makeSandboxRoot();
    roots.push(root);
    await chmod(root, 0o711);
    // tar is done within milliseconds, long before the slow store below starts reading.
    const provider = createLocalSandboxProvider({ rootDir: `${root}/sandboxes`, warmPoolSize: 1 });
    const local = createLocalBlobStore({ directory: `${root}/blobs` });
    const slow: BlobStore = {
      ...local,
      put: async (key, source) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return local.put(key, source);
      },
    };
    try {
      await (await provider.create({ resources, bridges: [] })).destroy();
      await provider.settled();
      const source = await provider.create({ resources, bridges: [] });
      expect(source.warmLauncherReady).toBe(true);
      await source.writeFile('notes/given.txt', 'given at creation\n');
      const { sizeBytes } = await snapshotSandboxState(source, slow, 'snapshots/one', snapshotLimits({ snapshotTimeoutMs: 60_000 }, resources.diskMb), {
        homeExcludes: [],
      });
      expect(sizeBytes).toBeGreaterThan(0);
      await source.destroy();

      const target = await provider.create({ resources, bridges: [] });
      await restoreSandboxState(target, local, 'snapshots/one', 2, 60_000);
      expect((await target.readFile('notes/given.txt')).toString()).toBe('given at creation\n');
      await target.destroy();
    } finally {
      await provider.close();
    }
  });
});
