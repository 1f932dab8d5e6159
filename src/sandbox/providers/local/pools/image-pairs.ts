// With the ext4 backing, a few image pairs (workspace + scratch) are formatted and mounted ahead of
// need in <rootDir>/.pool-<pid>-<n> (root-owned), per size, for the most recently used sizes;
// create() renames one onto the sandbox's directory (the mounts move with it) and hands the two
// filesystem roots to the sandbox uid. The same background removal releases the directories of
// destroyed sandboxes (lifecycle/teardown.ts).
import { chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AheadOfNeedPool } from '../../../ahead-of-need-pool.js';
import { isClosing, type ProviderContext } from '../context.js';
import { mountExt4 } from '../filesystems/ext4.js';
import { isBound, type LoopRef } from '../filesystems/loop-devices.js';
import { releaseMounts, removeSandboxDir } from '../filesystems/mounts.js';
import type { HostTools } from '../host/host-tools.js';
import { POOL_PREFIX } from '../layout.js';
import { PendingWork } from '../pending-work.js';

/** Keys each pool keeps items for (image pair sizes, warm sandbox shapes): the most recently used ones. */
export const POOL_KEYS = 2;

/** A formatted and mounted ext4 image pair waiting in the pool for a sandbox. */
export interface PreparedPair {
  dir: string;
  key: string;
  loops: LoopRef[];
}

interface PairWanted {
  tools: HostTools;
  diskMb: number;
  scratchMb: number;
}

export class ImagePairs {
  /** Formatted ext4 image pairs by size key (sizeKey()), for the most recently used sizes. */
  private readonly pool: AheadOfNeedPool<PairWanted, PreparedPair>;
  /** Removals of pairs and released sandbox directories, while they run. */
  private readonly removals = new PendingWork();
  private sequence = 0;

  constructor(private readonly ctx: ProviderContext) {
    this.pool = new AheadOfNeedPool<PairWanted, PreparedPair>({
      size: ctx.settings.ext4PoolSize,
      keys: POOL_KEYS,
      make: (key, { tools, diskMb, scratchMb }) => this.prepare(tools, key, diskMb, scratchMb),
      discard: (pair, { tools }) => void this.removeLater(tools, pair),
      stopped: () => isClosing(ctx),
      onMakeFailed: (error) => ctx.logger?.warn({ err: error }, 'cannot prepare a sandbox image pair ahead of need'),
    });
  }

  /** The pool key of a pair of these sizes. */
  static sizeKey(diskMb: number, scratchMb: number): string {
    return `${diskMb}:${scratchMb}`;
  }

  /** A new `<rootDir>/.pool-<pid>-<n>` path (the orphan sweep removes those of dead processes). */
  newDir(): string {
    return path.join(this.ctx.settings.rootDir, `${POOL_PREFIX}${process.pid}-${this.sequence++}`);
  }

  /** Records that pairs of these sizes are in use: replaces the one just taken, or prepares the first ones. */
  want(tools: HostTools, diskMb: number, scratchMb: number): void {
    this.pool.want(ImagePairs.sizeKey(diskMb, scratchMb), { tools, diskMb, scratchMb });
  }

  /** Takes a prepared pair of a size whose loop devices are still bound to its images. */
  async take(tools: HostTools, key: string): Promise<PreparedPair | undefined> {
    for (;;) {
      const pair = this.pool.take(key);
      if (pair === undefined) return undefined;
      if ((await Promise.all(pair.loops.map(isBound))).every(Boolean)) return pair;
      this.removeLater(tools, pair);
    }
  }

  /** Gives a pair just moved to a sandbox's directory to the sandbox uid; returns its loop devices. */
  async adopt(pair: PreparedPair, dir: string, uid: number): Promise<LoopRef[]> {
    const realDir = path.join(this.ctx.state.realRootDir, path.basename(dir));
    await Promise.all([chown(path.join(dir, 'workspace'), uid, uid), chown(path.join(dir, 'scratch'), uid, uid)]);
    return pair.loops.map((loop) => ({ ...loop, image: path.join(realDir, path.basename(loop.image)) }));
  }

  /** Unmounts and removes a pair (or a released sandbox directory) in the background; close() waits for it. */
  removeLater(tools: HostTools, pair: PreparedPair): Promise<void> {
    return this.removals.add(this.remove(tools, pair));
  }

  /** The background work under way: the pool's loop and the removals. */
  running(): Array<Promise<void>> {
    return [...(this.pool.filling === undefined ? [] : [this.pool.filling]), ...this.removals.list()];
  }

  /**
   * For close(): lets the loop finish, then removes every prepared pair (with the tools of the host
   * check, when one passed) and waits for every removal.
   */
  async close(currentTools: () => Promise<HostTools | undefined>): Promise<void> {
    await this.pool.filling;
    const tools = await currentTools();
    const pairs = this.pool.clear();
    if (tools !== undefined) for (const pair of pairs) this.removeLater(tools, pair);
    await Promise.all(this.removals.list());
  }

  /** Formats and mounts one image pair (owned by root until a sandbox takes it) in a pool directory. */
  private async prepare(tools: HostTools, key: string, diskMb: number, scratchMb: number): Promise<PreparedPair> {
    const dir = this.newDir();
    await mkdir(dir, { mode: 0o700 });
    try {
      await Promise.all([mkdir(path.join(dir, 'workspace')), mkdir(path.join(dir, 'scratch'))]);
      const loops = await mountExt4({ tools, realRootDir: this.ctx.state.realRootDir }, dir, { uid: 0, diskMb, scratchMb }, this.ctx.backgroundShell);
      return { dir, key, loops };
    } catch (error) {
      await this.remove(tools, { dir, key, loops: [] });
      throw error;
    }
  }

  /** Unmounts a pair, detaches its loop devices and removes its directory (and images). */
  private async remove(tools: HostTools, pair: PreparedPair): Promise<void> {
    const { ctx } = this;
    try {
      await releaseMounts({ tools, backing: ctx.settings.workspaceBacking, realRootDir: ctx.state.realRootDir }, pair.dir, pair.loops, ctx.backgroundShell);
      await removeSandboxDir(pair.dir);
    } catch (error) {
      ctx.logger?.warn({ dir: pair.dir, err: error }, 'cannot remove a prepared sandbox image pair');
    }
  }
}
