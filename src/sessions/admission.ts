// Admission of work that needs a live sandbox: a counter of slots (one per sandbox a task, a session
// or a shared sandbox holds) with a ceiling, `sandbox.maxLive`. Beyond it, requests answer 429
// CAPACITY_EXCEEDED with Retry-After instead of starting more sandboxes than the host can carry.
// The task service holds a slot from before a task is recorded until its sandbox is destroyed; the
// session manager gets its sandboxes through guardProvider(), which holds one per live sandbox.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { HangarError } from '../errors/errors.js';
import type { Sandbox, SandboxProvider } from '../sandbox/sandbox-provider.js';

/** Seconds a client is told to wait before retrying when every slot is taken. */
export const RETRY_AFTER_SEC = 5;
const MIB = 1024 * 1024;
/** Host memory counted per live sandbox when deriving the default ceiling (a CLI peaks near 220 MiB). */
const MEMORY_PER_SANDBOX_BYTES = 512 * MIB;

export interface HostCapacity {
  totalMemoryBytes: number;
  /** The kernel's pid_max. */
  pidMax: number;
}

/** Reads the host facts the default ceiling is derived from. */
export function readHostCapacity(): HostCapacity {
  let pidMax = 32_768;
  try {
    const value = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    if (Number.isInteger(value) && value > 0) pidMax = value;
  } catch {
    // Not Linux, or /proc not mounted: the kernel's usual default.
  }
  return { totalMemoryBytes: os.totalmem(), pidMax };
}

/**
 * The default ceiling of live sandboxes: no more than the uid range holds, than host memory carries
 * at 512 MiB each, or than the pids all sandboxes may use allow at the default pids limit of a
 * sandbox (`sandbox.hostLimits.pids` when set, else half the host's pids), so that sandboxes of
 * the default shape are refused here, with 429 before anything is recorded, rather than by the
 * provider's pids budget.
 */
export function defaultMaxLive(host: HostCapacity, sandbox: { uidRangeSize: number; defaultPids: number; hostPidsCeiling?: number | undefined }): number {
  const byMemory = Math.floor(host.totalMemoryBytes / MEMORY_PER_SANDBOX_BYTES);
  const byPids = Math.floor((sandbox.hostPidsCeiling ?? host.pidMax / 2) / sandbox.defaultPids);
  return Math.max(1, Math.min(sandbox.uidRangeSize, byMemory, byPids));
}

/** Whose sandbox a slot is for, and that tenant's own ceiling (its policy's maxConcurrentSandboxes). */
export interface TenantShare {
  tenantId: string;
  maxLive?: number | undefined;
}

export interface AdmissionSlot {
  /** Gives the slot back; later calls do nothing. */
  release(): void;
}

export interface Admission {
  readonly maxLive: number;
  /** Slots held now. */
  readonly live: number;
  /** Slots the tenant holds now. */
  liveOf(tenantId: string): number;
  /** Takes a slot, or fails with CAPACITY_EXCEEDED (429, Retry-After) when none is free (for the host, or for the tenant). */
  acquire(what: string, tenant?: TenantShare): AdmissionSlot;
  /** Fails with CAPACITY_EXCEEDED when no slot is free right now (takes none). */
  assertRoom(what: string, tenant?: TenantShare): void;
  /** The provider with every create() holding a slot (of the tenant given) until that sandbox's destroy(). */
  guardProvider(provider: SandboxProvider): GuardedSandboxProvider;
}

/** A provider whose create() also takes the tenant the sandbox counts against. */
export interface GuardedSandboxProvider extends SandboxProvider {
  create(spec: Parameters<SandboxProvider['create']>[0], tenant?: TenantShare): Promise<Sandbox>;
}

export function createAdmission(settings: { maxLive: number }): Admission {
  const { maxLive } = settings;
  let live = 0;
  const liveByTenant = new Map<string, number>();
  const liveOf = (tenantId: string): number => liveByTenant.get(tenantId) ?? 0;
  const full = (what: string): HangarError =>
    new HangarError('CAPACITY_EXCEEDED', `no sandbox is free for ${what}: ${live} of ${maxLive} are live (sandbox.maxLive); retry in a few seconds`, {
      details: { live, maxLive },
      retryAfterSec: RETRY_AFTER_SEC,
    });
  const tenantFull = (what: string, tenant: TenantShare): HangarError =>
    new HangarError(
      'CAPACITY_EXCEEDED',
      `no sandbox is free for ${what}: tenant ${tenant.tenantId} has ${liveOf(tenant.tenantId)} of its ${tenant.maxLive} live (policy maxConcurrentSandboxes); retry when one ends`,
      {
        details: { tenantId: tenant.tenantId, live: liveOf(tenant.tenantId), maxLive: tenant.maxLive, limit: 'maxConcurrentSandboxes' },
        retryAfterSec: RETRY_AFTER_SEC,
      },
    );
  const check = (what: string, tenant: TenantShare | undefined): void => {
    if (live >= maxLive) throw full(what);
    if (tenant?.maxLive !== undefined && liveOf(tenant.tenantId) >= tenant.maxLive) throw tenantFull(what, tenant);
  };
  const admission: Admission = {
    maxLive,
    get live() {
      return live;
    },
    liveOf,
    acquire(what, tenant) {
      check(what, tenant);
      live += 1;
      if (tenant !== undefined) liveByTenant.set(tenant.tenantId, liveOf(tenant.tenantId) + 1);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          live -= 1;
          if (tenant === undefined) return;
          const left = liveOf(tenant.tenantId) - 1;
          if (left > 0) liveByTenant.set(tenant.tenantId, left);
          else liveByTenant.delete(tenant.tenantId);
        },
      };
    },
    assertRoom(what, tenant) {
      check(what, tenant);
    },
    guardProvider(provider) {
      return {
        name: provider.name,
        async create(spec, tenant) {
          const slot = admission.acquire('a new sandbox', tenant);
          let sandbox: Sandbox;
          try {
            sandbox = await provider.create(spec);
          } catch (error) {
            slot.release();
            throw error;
          }
          // The slot is free once the sandbox's processes and cgroups are gone (destroy resolved).
          const destroy = async (): Promise<void> => {
            try {
              await sandbox.destroy();
            } finally {
              slot.release();
            }
          };
          // Everything else reaches the sandbox itself, methods bound to it.
          return new Proxy(sandbox, {
            get(target, property) {
              if (property === 'destroy') return destroy;
              const value: unknown = Reflect.get(target, property, target);
              return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            },
          });
        },
        ...(provider.prewarm !== undefined ? { prewarm: provider.prewarm.bind(provider) } : {}),
        close: () => provider.close(),
      };
    },
  };
  return admission;
}
