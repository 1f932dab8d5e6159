// The warm pool: sandboxes kept ready per shape (everything fixed at creation but the cgroup limits),
// used only while the host paths they bind are the same files.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { AheadOfNeedPool } from '../../../ahead-of-need-pool.js';
import { isPidsExhausted } from '../../../cgroups.js';
import type { SandboxSpec } from '../../../sandbox-provider.js';
import { isClosing, type ProviderContext } from '../context.js';
import type { HostTools } from '../host/host-tools.js';
import type { HostCheck } from '../host/preflight.js';
import { isUidsExhausted } from '../host/uid-allocator.js';
import type { LocalSandboxImpl } from '../local-sandbox.js';
import { PendingWork } from '../pending-work.js';
import { validateSpec } from '../spec-validation.js';
import { POOL_KEYS } from './image-pairs.js';

/** What the warm pool keys sandboxes by: disk sizes, bridges and read-only paths (order does not matter). */
export function shapeOf(spec: SandboxSpec, scratchMb: number | undefined): string {
  return JSON.stringify({
    diskMb: spec.resources.diskMb,
    scratchMb: scratchMb ?? spec.resources.diskMb,
    bridges: [...(spec.bridges ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1)).map((bridge) => [bridge.name, bridge.hostSocketPath, bridge.port]),
    readOnlyPaths: [...(spec.readOnlyPaths ?? [])].sort(),
    // The files themselves, by digest: a warm sandbox holds copies made when it was created.
    readOnlyFiles: (spec.readOnlyFiles ?? []).map((file) => [file.path, createHash('sha256').update(file.content).digest('hex')]),
  });
}

/** The spec the warm pool makes sandboxes of this shape from (no id, copied). */
export function poolSpec(spec: SandboxSpec): SandboxSpec {
  return {
    resources: { ...spec.resources },
    bridges: [...(spec.bridges ?? [])],
    readOnlyPaths: [...(spec.readOnlyPaths ?? [])],
    readOnlyFiles: (spec.readOnlyFiles ?? []).map((file) => ({ ...file })),
  };
}

/** Device and inode of each host path a spec binds in; a warm sandbox is used only while they are unchanged. */
export async function bindIdentities(spec: SandboxSpec): Promise<string> {
  const paths = [...(spec.bridges ?? []).map((bridge) => bridge.hostSocketPath), ...(spec.readOnlyPaths ?? [])];
  const identities = await Promise.all(
    paths.map((hostPath) =>
      stat(hostPath).then(
        (info) => `${info.dev}:${info.ino}`,
        () => 'missing',
      ),
    ),
  );
  return identities.join(',');
}

/** A sandbox of the warm pool, with what it was made with. */
interface WarmSandbox {
  sandbox: LocalSandboxImpl;
  /** bindIdentities() of its spec when it was made. */
  binds: string;
}

/**
 * Warm sandboxes (warmPoolSize > 0): sandboxes of the most recently used shapes are created ahead of
 * need with their first launch chain already started (prelaunch()), at background CPU weight. take()
 * gives one with the asked memory/cpu/pids limits, whose first spawn() starts its command with no
 * chain to wait for. Needs bash and env(1).
 */
export class WarmSandboxes {
  private readonly pool: AheadOfNeedPool<SandboxSpec, WarmSandbox>;
  /** Destroys of warm sandboxes nobody will use, while they run. */
  private readonly discards = new PendingWork();
  /** prewarm() calls waiting for the host checks before they start filling the pool. */
  private readonly starting = new PendingWork();

  constructor(
    private readonly ctx: ProviderContext,
    private readonly host: HostCheck,
    /** Creates a sandbox at background CPU weight (lifecycle/create.ts). */
    createInBackground: (spec: SandboxSpec) => Promise<LocalSandboxImpl>,
  ) {
    const { logger } = ctx;
    this.pool = new AheadOfNeedPool<SandboxSpec, WarmSandbox>({
      size: ctx.settings.warmPoolSize,
      keys: POOL_KEYS,
      make: async (_key, spec) => {
        const binds = await bindIdentities(spec);
        const sandbox = await createInBackground(spec);
        try {
          sandbox.prelaunch();
        } catch (error) {
          this.discard(sandbox);
          throw error;
        }
        return { sandbox, binds };
      },
      discard: (entry) => this.discard(entry.sandbox),
      stopped: () => isClosing(ctx),
      // A full uid range or pids ceiling is the pool giving way to sandboxes in use, not a fault.
      onMakeFailed: (error) =>
        isUidsExhausted(error) || isPidsExhausted(error)
          ? logger?.debug({ err: error }, 'no uid or pids left for a warm sandbox')
          : logger?.warn({ err: error }, 'cannot make a warm sandbox ahead of need'),
    });
  }

  /** Warm sandboxes ready, over all shapes. */
  get count(): number {
    return this.pool.count;
  }

  /** True when a spec may get a warm sandbox: the pool is on, the spec names no id, the provider is open. */
  serves(spec: SandboxSpec): boolean {
    return this.ctx.settings.warmPoolSize > 0 && spec.id === undefined && !isClosing(this.ctx);
  }

  /** Starts filling the pool for the spec's shape once the host checks pass (a no-op when the pool cannot serve it). */
  prewarm(spec: SandboxSpec): void {
    const { logger } = this.ctx;
    if (!this.serves(spec)) return;
    try {
      validateSpec(spec);
    } catch (error) {
      logger?.warn({ err: error }, 'cannot prewarm sandboxes of an invalid spec');
      return;
    }
    this.starting.add(
      this.host.ensure().then(
        (tools) => {
          if (canLaunchWarm(tools)) this.want(spec);
        },
        (error: unknown) => logger?.warn({ err: error }, 'cannot prewarm sandboxes: this host cannot run them'),
      ),
    );
  }

  /** Records that the spec's shape is in use: the pool (re)fills it in the background. */
  want(spec: SandboxSpec): void {
    this.pool.want(shapeOf(spec, this.ctx.settings.scratchMb), poolSpec(spec));
  }

  /**
   * Takes a warm sandbox of the spec's shape whose launcher still waits and whose bound host paths
   * are still the same files, with the spec's limits applied; undefined when there is none.
   */
  async take(spec: SandboxSpec): Promise<LocalSandboxImpl | undefined> {
    const key = shapeOf(spec, this.ctx.settings.scratchMb);
    for (let entry = this.pool.take(key); entry !== undefined; entry = this.pool.take(key)) {
      const { sandbox } = entry;
      try {
        if (!sandbox.warmLauncherReady) throw new Error(`its launcher exited: ${sandbox.warmLauncherStderr.trim() || 'no output'}`);
        if ((await bindIdentities(spec)) !== entry.binds) throw new Error('a bridge socket or read-only path was replaced since it was made');
        // The asked limits, and a normal CPU weight instead of the pool's background one.
        await sandbox.setLimits(spec.resources);
        return sandbox;
      } catch (error) {
        this.ctx.logger?.warn({ sandboxId: sandbox.id, err: error }, 'a warm sandbox is not usable; destroying it');
        this.discard(sandbox);
      }
    }
    return undefined;
  }

  /** Destroys one warm sandbox (of the least recently used shape) to free what it holds; undefined when the pool is empty. */
  evict(): Promise<void> | undefined {
    const { logger } = this.ctx;
    const entry = this.pool.takeAny();
    if (entry === undefined) return undefined;
    logger?.debug({ sandboxId: entry.sandbox.id }, 'warm sandbox destroyed to free its uid and pids');
    return entry.sandbox.destroy().catch((error: unknown) => logger?.warn({ sandboxId: entry.sandbox.id, err: error }, 'cannot destroy a warm sandbox'));
  }

  /** The background work under way: prewarms starting, the pool's loop, discards. */
  running(): Array<Promise<void>> {
    return [...this.starting.list(), ...(this.pool.filling === undefined ? [] : [this.pool.filling]), ...this.discards.list()];
  }

  /**
   * For close(): lets the prewarms and the loop finish and empties the pool. Its sandboxes are live
   * ones: close() destroys them with the others.
   */
  async close(): Promise<void> {
    await Promise.allSettled(this.starting.list());
    await this.pool.filling;
    this.pool.clear();
    await Promise.allSettled(this.discards.list());
  }

  /** Destroys a warm sandbox nobody will use, in the background. */
  private discard(sandbox: LocalSandboxImpl): void {
    this.discards.add(
      sandbox.destroy().catch((error: unknown) => this.ctx.logger?.warn({ sandboxId: sandbox.id, err: error }, 'cannot destroy a warm sandbox')),
    );
  }
}

/** A warm launcher needs bash and env(1). */
export function canLaunchWarm(tools: HostTools): boolean {
  return tools.bash !== undefined && tools.env !== undefined;
}
