// What the provider's parts share: the resolved settings, the host shells, cgroups, uids and pids
// budget, and the small mutable state of the provider (ProviderState), passed explicitly to the
// lifecycle, host and pool functions.
import { createCgroupManager, createPidsBudget, type CgroupManager, type HostCeilings, type PidsBudget } from '../../cgroups.js';
import { createHostShell, type HostShell } from '../../host-shell.js';
import type { HangarError } from '../../../errors/errors.js';
import { unavailable } from './errors.js';
import { UidAllocator } from './host/uid-allocator.js';
import type { LocalSandboxImpl } from './local-sandbox.js';
import type { LocalSandboxLogger, ResolvedLocalSandboxSettings } from './settings.js';

export interface ProviderState {
  /** Sandboxes created and not yet torn down, by id. */
  readonly live: Map<string, LocalSandboxImpl>;
  /** Ids of sandboxes being created or live. */
  readonly reservedIds: Set<string>;
  /** close() calls running: a create() that finishes meanwhile destroys what it made and fails. */
  closing: number;
  /** rootDir with symlinks resolved, as loop devices report their backing files (set by preflight). */
  realRootDir: string;
}

export interface ProviderContext {
  readonly settings: ResolvedLocalSandboxSettings;
  readonly logger: LocalSandboxLogger | undefined;
  /**
   * Short host commands (mount, umount, losetup, mkfs) run through small long-lived shells: this one
   * for what a caller waits for...
   */
  readonly hostShell: HostShell;
  /** ...and this one, at the lowest CPU priority, for background work (pools, releases after destroys). */
  readonly backgroundShell: HostShell;
  readonly cgroups: CgroupManager;
  readonly uids: UidAllocator;
  /** Each live sandbox's share of the parent cgroup's pids ceiling. */
  readonly pidsBudget: PidsBudget;
  readonly state: ProviderState;
}

/** The shared parts of a provider; nothing touches the host until the first command. */
export function createProviderContext(settings: ResolvedLocalSandboxSettings): ProviderContext {
  const { logger } = settings;
  const cgroups = createCgroupManager({
    parent: settings.cgroupParent,
    ...(settings.hostLimits !== undefined ? { hostLimits: settings.hostLimits } : {}),
    onCeilings: (ceilings: HostCeilings) => {
      logger?.debug({ ceilings }, 'host-wide sandbox ceilings set on the parent cgroup');
      if (ceilings.tcp.state === 'unavailable') logger?.warn({ detail: ceilings.tcp.detail }, 'TCP socket buffers of sandboxes have no per-sandbox limit');
    },
  });
  return {
    settings,
    logger,
    hostShell: createHostShell(),
    backgroundShell: createHostShell({ niceness: 19 }),
    cgroups,
    uids: new UidAllocator(settings.uidRangeStart, settings.uidRangeSize, settings.uidLockDir),
    pidsBudget: createPidsBudget(() => cgroups.ceilings()?.pids),
    state: { live: new Map(), reservedIds: new Set(), closing: 0, realRootDir: settings.rootDir },
  };
}

export function isClosing(ctx: ProviderContext): boolean {
  return ctx.state.closing > 0;
}

export function closingError(id?: string): HangarError {
  return unavailable(id === undefined ? 'the sandbox provider is closing' : `the sandbox provider closed while sandbox ${id} was being created`);
}
