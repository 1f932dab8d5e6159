// The provider object: create() (a warm sandbox when one fits, else a new one, evicting a warm one
// when they hold the last uids or pids), prewarm(), checkHost(), close() and settled().
import { isPidsExhausted } from '../../cgroups.js';
import type { SandboxSpec } from '../../sandbox-provider.js';
import type { ProviderContext } from './context.js';
import { failed } from './errors.js';
import type { HostCheck } from './host/preflight.js';
import { isUidsExhausted } from './host/uid-allocator.js';
import type { LocalSandboxImpl } from './local-sandbox.js';
import { PendingWork } from './pending-work.js';
import type { ImagePairs } from './pools/image-pairs.js';
import { canLaunchWarm, type WarmSandboxes } from './pools/warm-sandboxes.js';
import { validateSpec } from './spec-validation.js';
import type { LocalSandbox, LocalSandboxProvider } from './types.js';

/** The parts the provider object drives. */
export interface ProviderParts {
  ctx: ProviderContext;
  host: HostCheck;
  pairs: ImagePairs;
  warm: WarmSandboxes;
  /** Creates a sandbox at normal CPU weight (lifecycle/create.ts). */
  createSandbox(spec: SandboxSpec): Promise<LocalSandboxImpl>;
}

export function createProvider({ ctx, host, pairs, warm, createSandbox }: ProviderParts): LocalSandboxProvider {
  const { state, logger } = ctx;
  /** create() calls that have not settled yet; close() waits for them. */
  const inFlight = new PendingWork<LocalSandbox>();

  /** createSandbox(); when warm sandboxes hold the last uids or pids, one of them gives way. */
  const createEvictingWarm = async (spec: SandboxSpec): Promise<LocalSandboxImpl> => {
    try {
      return await createSandbox(spec);
    } catch (error) {
      const evicted = isUidsExhausted(error) || isPidsExhausted(error) ? warm.evict() : undefined;
      if (evicted === undefined) throw error;
      await evicted;
      return createSandbox(spec);
    }
  };

  /** A sandbox from the warm pool when the spec allows one (no id, bash and env(1) present), else a new one. */
  const createOrTakeWarm = async (spec: SandboxSpec): Promise<LocalSandbox> => {
    let refill: (() => void) | undefined;
    if (warm.serves(spec)) {
      validateSpec(spec);
      if (canLaunchWarm(await host.ensure())) {
        refill = () => warm.want(spec);
        const taken = await warm.take(spec);
        if (taken !== undefined) {
          refill();
          logger?.debug({ sandboxId: taken.id, resources: spec.resources }, 'sandbox taken from the warm pool');
          return taken;
        }
      }
    }
    // The pool refills once the sandbox asked for exists: it comes first for uids and the host's time.
    const sandbox = await createEvictingWarm(spec);
    refill?.();
    return sandbox;
  };

  const close = async (): Promise<void> => {
    state.closing += 1;
    try {
      // Creates in flight settle first: each one that finishes now undoes its work and fails, so
      // no sandbox appears after the destroy below.
      while (inFlight.size > 0) await Promise.allSettled(inFlight.list());
      // Warm sandboxes and prepared image pairs go too; the pools refill on the next create().
      await warm.close();
      await pairs.close(() => host.current());
      const results = await Promise.allSettled([...state.live.values()].map((sandbox) => sandbox.destroy()));
      ctx.hostShell.close();
      ctx.backgroundShell.close();
      const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failures.length > 0) throw failed(`${failures.length} sandbox(es) could not be destroyed`, failures[0]?.reason);
    } finally {
      state.closing -= 1;
    }
  };

  const settled = async (): Promise<void> => {
    for (;;) {
      const running = [...warm.running(), ...pairs.running()];
      if (running.length === 0) return;
      // Work finishing may have started more (a warm sandbox takes an image pair, whose pool refills).
      await Promise.allSettled(running);
    }
  };

  return {
    name: 'local',
    create: (spec) => inFlight.add(createOrTakeWarm(spec)),
    prewarm: (spec) => warm.prewarm(spec),
    checkHost: async () => {
      await host.ensure();
    },
    close,
    settled,
    get warmSandboxes() {
      return warm.count;
    },
  };
}
