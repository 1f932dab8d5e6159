// The local sandbox provider: isolates each sandbox on this host with bubblewrap (namespaces),
// cgroups (memory, cpu, pids) and size-capped filesystems (disk), and runs its processes as a host
// uid of their own. createLocalSandboxProvider() wires the parts, one concern per file:
//
//   settings.ts         the settings' zod schema and defaults (LOCAL_SANDBOX_DEFAULTS)
//   context.ts          what the parts share: settings, host shells, cgroups, uids, pids budget, and
//                       the provider's small mutable state (live sandboxes, closing, realRootDir)
//   provider.ts         the provider object: create (warm or new), prewarm, close, settled
//   local-sandbox.ts    one sandbox: launches, files, limits, processes, destroy
//   types.ts            LocalSandbox and LocalSandboxProvider
//   spec-validation.ts  checks of specs and launch requests
//   workspace-files.ts  root's reads and writes of a workspace, by descriptor (workspace-scan.ts:
//                       bounded scans of whole workspaces)
//   exec.ts             exec()'s capped output and timeout
//   processes.ts        the agent's processes among a sandbox's (agentProcesses())
//   lifecycle/          create.ts (the host layout of a sandbox), teardown.ts, orphan-sweep.ts
//   host/               preflight.ts (host checks and probe), host-tools.ts, uid-allocator.ts
//   isolation/          pure builders, shared by launches and the probe and tested without root:
//                       bwrap-args.ts (setpriv + bwrap), bridge-prelude.ts, launcher-script.ts,
//                       etc-files.ts (/etc and /proc masks)
//   launch/             launch-chain.ts (cgroup join -> setpriv -> bwrap), warm-launcher.ts,
//                       children.ts
//   filesystems/        ext4.ts, tmpfs.ts, fstab.ts, mounts.ts, loop-devices.ts
//   pools/              image-pairs.ts (ext4 pairs ahead of need), warm-sandboxes.ts
//
// The two filesystems of a sandbox (workspace, and scratch for HOME, /tmp and /dev/shm) are, per the
// workspaceBacking setting:
//   ext4   sparse image files (root-only, mode 0600) formatted ext4 and loop-mounted. Their pages go
//          through the page cache: charged to the sandbox's memory cgroup but reclaimable, so a
//          workspace can hold more than the memory limit. Images take host disk as they fill.
//   tmpfs  size-capped tmpfs mounts. Their pages count toward the memory limit and, without swap,
//          cannot be reclaimed: a workspace never holds more than the memory limit allows.
import { createProviderContext } from './context.js';
import { HostCheck } from './host/preflight.js';
import { createSandbox } from './lifecycle/create.js';
import { ImagePairs } from './pools/image-pairs.js';
import { WarmSandboxes } from './pools/warm-sandboxes.js';
import { createProvider } from './provider.js';
import { resolveLocalSandboxSettings, type LocalSandboxSettings } from './settings.js';
import type { LocalSandboxProvider } from './types.js';

export { LOCAL_SANDBOX_DEFAULTS, localSandboxSettingsSchema, type LocalSandboxLogger, type LocalSandboxSettings, type WorkspaceBacking } from './settings.js';
export type { LocalSandbox, LocalSandboxProvider } from './types.js';

/** Creates the local provider; nothing touches the host until the first create(). */
export function createLocalSandboxProvider(settings: LocalSandboxSettings): LocalSandboxProvider {
  const ctx = createProviderContext(resolveLocalSandboxSettings(settings));
  const host = new HostCheck(ctx);
  const pairs = new ImagePairs(ctx);
  const making = { ctx, host, pairs };
  const warm = new WarmSandboxes(ctx, host, (spec) => createSandbox(making, spec, true));
  return createProvider({ ctx, host, pairs, warm, createSandbox: (spec) => createSandbox(making, spec) });
}
