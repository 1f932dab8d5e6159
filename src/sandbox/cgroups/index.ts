// Cgroup management for sandboxes: detects cgroup v1 or v2 at runtime, creates one group per
// sandbox under a parent (default `hangar`) that carries host-wide ceilings, applies memory, TCP
// buffer (v1), cpu and pids limits, reads OOM and memory statistics, kills every process in a
// group and removes it. One file per concern: detect, host-limits, v1, v2, manager, pids-budget.
export { detectCgroupLayout, FAVOR_DYNMODS_MOUNT_POINT, favorDynamicModifications, parseCgroupMounts, type FavorDynmodsOutcome } from './detect.js';
export { defaultMemoryBytes, defaultPids, readHostFacts, resolveHostLimits, splitParentMemory, tcpLimitBytes } from './host-limits.js';
export { createCgroupManager } from './manager.js';
export { createPidsBudget, isPidsExhausted, type PidsBudget } from './pids-budget.js';
export type * from './types.js';
