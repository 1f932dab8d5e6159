// A sandbox's teardown (its destroy()): stops its processes, removes its cgroups, releases its
// filesystems and directory, and gives back its uid and pids share.
import { rename } from 'node:fs/promises';
import type { ProviderContext } from '../context.js';
import { failed } from '../errors.js';
import { releaseMounts, removeSandboxDir } from '../filesystems/mounts.js';
import type { HostTools } from '../host/host-tools.js';
import { waitForExit } from '../launch/children.js';
import type { LocalSandboxImpl } from '../local-sandbox.js';
import type { ImagePairs } from '../pools/image-pairs.js';

/** Removes everything a sandbox made on the host; keeps going after errors and reports them together. */
export async function teardownSandbox(ctx: ProviderContext, pairs: ImagePairs, tools: HostTools, sandbox: LocalSandboxImpl): Promise<void> {
  const { settings, state, logger } = ctx;
  const problems: string[] = [];
  const children = sandbox.killChildren();
  let cgroupGone = false;
  try {
    await sandbox.removeCgroup();
    cgroupGone = true;
  } catch (error) {
    problems.push((error as Error).message);
  }
  // The launchers are this process's children: wait (bounded) until they are reaped.
  await Promise.all(children.map((child) => waitForExit(child, 2000)));
  try {
    if (settings.workspaceBacking === 'ext4' && cgroupGone && state.closing === 0) {
      // Nothing of the sandbox runs any more. Unmounting ext4 images and freeing their loop
      // devices takes the kernel ~8 ms, so the directory moves out of the way (its mounts move
      // with it) under a pool name, and is released in the background: close() waits for it, and
      // the orphan sweep removes it if this process dies first.
      const released = pairs.newDir();
      await rename(sandbox.hostDir, released);
      sandbox.releasedDir = released;
      sandbox.released = pairs.removeLater(tools, { dir: released, key: '', loops: [...sandbox.loops] });
    } else {
      await releaseMounts({ tools, backing: settings.workspaceBacking, realRootDir: state.realRootDir }, sandbox.hostDir, sandbox.loops, ctx.hostShell);
      await removeSandboxDir(sandbox.hostDir);
    }
  } catch (error) {
    problems.push(`cannot remove ${sandbox.hostDir}: ${(error as Error).message}`);
  }
  state.live.delete(sandbox.id);
  state.reservedIds.delete(sandbox.id);
  // A uid whose processes may survive is never handed out again by this process.
  if (cgroupGone) {
    await ctx.uids.release(sandbox.hostUid);
    ctx.pidsBudget.release(sandbox.id);
  }
  if (problems.length > 0) {
    logger?.warn({ sandboxId: sandbox.id, problems }, 'sandbox teardown incomplete');
    throw failed(`sandbox ${sandbox.id} teardown incomplete: ${problems.join('; ')}`, undefined, { problems });
  }
  logger?.debug({ sandboxId: sandbox.id }, 'sandbox destroyed');
}
