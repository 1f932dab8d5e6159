// Creating a sandbox on the host. Layout of one sandbox under <rootDir>/<id> (owned by the sandbox
// uid, mode 0700):
//   workspace/   a filesystem of diskMb               -> /workspace
//   scratch/     a second one (scratchMb): home/ -> /home/agent, tmp/ -> /tmp, shm/ -> /dev/shm
//   workspace.img, scratch.img                        (ext4 backing only: the two image files)
//   scratch/hangar/   (root-owned, unreachable inside but through these binds):
//     passwd, group, hosts, hostname, resolv.conf, nsswitch.conf -> /etc/<name> (see isolation/etc-files.ts)
//     cmdline                                         -> /proc/cmdline (the host's is not shown)
//     empty                                           -> the masked /proc files
//     launch/spec-<n>   command of a launcher           -> /run/hangar/launch, read-only (see launch/warm-launcher.ts)
// Filling the workspace thus never takes the space the CLI needs for its own state in HOME and /tmp.
import { chmod, chown, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HangarError } from '../../../../errors/errors.js';
import { newSandboxId } from '../../../../ids.js';
import { errnoOf } from '../../../by-descriptor.js';
import type { SandboxSpec } from '../../../sandbox-provider.js';
import { closingError, isClosing, type ProviderContext } from '../context.js';
import { failed } from '../errors.js';
import { mountExt4 } from '../filesystems/ext4.js';
import type { LoopRef } from '../filesystems/loop-devices.js';
import { releaseMounts, removeSandboxDir } from '../filesystems/mounts.js';
import { mountTmpfs } from '../filesystems/tmpfs.js';
import type { HostCheck } from '../host/preflight.js';
import { GENERATED_ETC_FILES, generatedEtcContents } from '../isolation/etc-files.js';
import { HANGAR_SCRATCH_DIR, HOME_PATH, INSIDE_ID, MIB, mountPointsOf, SANDBOX_HOSTNAME } from '../layout.js';
import { LocalSandboxImpl } from '../local-sandbox.js';
import { ImagePairs } from '../pools/image-pairs.js';
import { checkSpecHostPaths, validateSpec } from '../spec-validation.js';
import { teardownSandbox } from './teardown.js';

/** Creates home, tmp and shm on the scratch filesystem, and Hangar's own files beside them. */
async function layoutScratch(scratch: string, uid: number, givenFiles: NonNullable<SandboxSpec['readOnlyFiles']>): Promise<void> {
  const owned = async (name: string, mode: number): Promise<void> => {
    const sub = path.join(scratch, name);
    await mkdir(sub);
    await chmod(sub, mode);
    await chown(sub, uid, uid);
  };
  // Hangar's own files: root-owned, so the sandbox user cannot change them, and outside the
  // directories bound inside.
  const hangarDir = path.join(scratch, HANGAR_SCRATCH_DIR);
  await mkdir(hangarDir, { mode: 0o755 });
  const contents = generatedEtcContents({ uid: INSIDE_ID, home: HOME_PATH, hostname: SANDBOX_HOSTNAME });
  await Promise.all([
    owned('home', 0o700),
    owned('tmp', 0o1777),
    owned('shm', 0o1777),
    mkdir(path.join(hangarDir, 'launch'), { mode: 0o755 }),
    writeFile(path.join(hangarDir, 'cmdline'), `${SANDBOX_HOSTNAME}\n`, { mode: 0o644 }),
    writeFile(path.join(hangarDir, 'empty'), '', { mode: 0o444 }),
    ...GENERATED_ETC_FILES.map((name) => writeFile(path.join(hangarDir, name), contents[name], { mode: 0o644 })),
    mkdir(path.join(hangarDir, 'given'), { mode: 0o755 }),
  ]);
  // The spec's readOnlyFiles, by number (bwrap-args.ts binds each at its path inside).
  await Promise.all(givenFiles.map((file, index) => writeFile(path.join(hangarDir, 'given', String(index)), file.content, { mode: 0o644 })));
}

/** What creating sandboxes takes besides the context. */
export interface SandboxMaking {
  ctx: ProviderContext;
  host: HostCheck;
  pairs: ImagePairs;
}

/**
 * Creates a sandbox: its pids share, uid, directory, filesystems (a prepared image pair when one is
 * ready), scratch layout and cgroups; undone step by step when one fails. A `background` one (the
 * warm pool's) gets CPU only when running sandboxes leave some.
 */
export async function createSandbox({ ctx, host, pairs }: SandboxMaking, spec: SandboxSpec, background = false): Promise<LocalSandboxImpl> {
  const { settings, state, logger, uids, pidsBudget } = ctx;
  const backing = settings.workspaceBacking;
  validateSpec(spec);
  if (isClosing(ctx)) throw closingError();
  const tools = await host.ensure();
  await checkSpecHostPaths(spec);
  const id = spec.id ?? newSandboxId('sbx');
  if (state.live.has(id) || state.reservedIds.has(id)) throw new HangarError('CONFLICT', `sandbox ${id} already exists`);
  state.reservedIds.add(id);
  const dir = path.join(settings.rootDir, id);
  const undo: Array<() => Promise<unknown>> = [];
  try {
    pidsBudget.reserve(id, spec.resources.pids);
    undo.push(async () => pidsBudget.release(id));
    const uid = await uids.allocate(id);
    undo.push(() => uids.release(uid));
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if (errnoOf(error) === 'EEXIST') throw new HangarError('CONFLICT', `sandbox directory ${dir} already exists`, { cause: error });
      throw error;
    }
    undo.push(() => removeSandboxDir(dir));
    const [workspace, scratch] = mountPointsOf(dir);
    const { diskMb } = spec.resources;
    const scratchMb = settings.scratchMb ?? diskMb;
    let pair = backing === 'ext4' ? await pairs.take(tools, ImagePairs.sizeKey(diskMb, scratchMb)) : undefined;
    undo.push(() => releaseMounts({ tools, backing, realRootDir: state.realRootDir }, dir, undefined, ctx.hostShell));
    let loops: LoopRef[] = [];
    if (pair !== undefined) {
      try {
        // Replaces the empty sandbox directory; the pair's mounts move with it.
        await rename(pair.dir, dir);
      } catch (error) {
        logger?.warn({ dir: pair.dir, err: error }, 'cannot move a prepared image pair; formatting new images');
        pairs.removeLater(tools, pair);
        pair = undefined;
      }
    }
    if (pair !== undefined) loops = await pairs.adopt(pair, dir, uid);
    await Promise.all([chown(dir, uid, uid), chmod(dir, 0o700), ...(pair === undefined ? [mkdir(workspace), mkdir(scratch)] : [])]);
    const mounted = async (): Promise<void> => {
      if (backing === 'ext4')
        loops = pair !== undefined ? loops : await mountExt4({ tools, realRootDir: state.realRootDir }, dir, { uid, diskMb, scratchMb }, ctx.hostShell);
      else await mountTmpfs(tools.mount, dir, { id, uid, diskMb, scratchMb }, ctx.hostShell);
      await layoutScratch(scratch, uid, spec.readOnlyFiles ?? []);
    };
    // The cgroups and the identity files are made while the filesystems are being mounted.
    const [cgroupResult, ...rest] = await Promise.allSettled([
      ctx.cgroups.create(id, { memoryBytes: Math.floor(spec.resources.memoryMb * MIB), cpus: spec.resources.cpus, pids: spec.resources.pids, background }),
      mounted(),
    ]);
    if (cgroupResult.status === 'fulfilled') {
      const made = cgroupResult.value;
      undo.push(() => made.remove());
    }
    if (cgroupResult.status === 'rejected') throw cgroupResult.reason;
    const cgroup = cgroupResult.value;
    for (const step of rest) if (step.status === 'rejected') throw step.reason;
    if (isClosing(ctx)) throw closingError(id);
    const sandbox = new LocalSandboxImpl({
      id,
      hostDir: dir,
      hostUid: uid,
      backing,
      loops,
      cgroup,
      tools,
      bridges: [...(spec.bridges ?? [])],
      readOnlyPaths: [...(spec.readOnlyPaths ?? [])],
      givenFiles: (spec.readOnlyFiles ?? []).map((file) => file.path),
      pidsBudget,
      teardown: (target) => teardownSandbox(ctx, pairs, tools, target),
    });
    state.live.set(id, sandbox);
    // Replaces the pair just used (or prepares the first ones), now that this create is done.
    if (backing === 'ext4') pairs.want(tools, diskMb, scratchMb);
    logger?.debug({ sandboxId: id, uid, resources: spec.resources, backing, prepared: pair !== undefined }, 'sandbox created');
    return sandbox;
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    state.reservedIds.delete(id);
    if (error instanceof HangarError) throw error;
    throw failed(`cannot create sandbox ${id}: ${(error as Error).message}`, error);
  }
}
