// The local provider's settings: one zod schema with the defaults (LOCAL_SANDBOX_DEFAULTS, which the
// service configuration uses too), parsed once by the factory into ResolvedLocalSandboxSettings.
import path from 'node:path';
import { z } from 'zod';
import { HangarError } from '../../../errors/errors.js';
import type { HostLimitSettings } from '../../cgroups.js';

/** Logger subset the provider uses (a pino logger fits). */
export interface LocalSandboxLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What holds a sandbox's workspace and scratch area: loop-mounted ext4 images or tmpfs. */
export type WorkspaceBacking = 'tmpfs' | 'ext4';

/** The default of every setting that has one; the service configuration (config.ts) takes its sandbox defaults from here. */
export const LOCAL_SANDBOX_DEFAULTS = {
  uidRangeStart: 200_000,
  uidRangeSize: 10_000,
  uidLockDir: '/run/hangar/uids',
  workspaceBacking: 'ext4' as WorkspaceBacking,
  ext4PoolSize: 2,
  cgroupParent: 'hangar',
  warmPoolSize: 2,
  favorDynamicCgroups: true,
  readOnlySystemPaths: ['/usr', '/bin', '/lib', '/lib64', '/sbin'] as readonly string[],
} as const;

const D = LOCAL_SANDBOX_DEFAULTS;

export const localSandboxSettingsSchema = z
  .object({
    rootDir: z.string().min(1).describe('Host directory holding one directory per sandbox (e.g. <dataDir>/sandboxes); created when missing'),
    uidRangeStart: z.number().int().min(1000).default(D.uidRangeStart).describe('First host uid (and gid) handed to sandboxes; each live sandbox has its own'),
    uidRangeSize: z.number().int().min(1).default(D.uidRangeSize).describe('Number of host uids in the range: the most sandboxes alive at once on this host'),
    uidLockDir: z.string().min(1).default(D.uidLockDir).describe('Directory of uid reservation files shared by every Hangar process on the host'),
    bwrapPath: z.string().optional().describe('bubblewrap executable; default: `bwrap` found on PATH'),
    socatPath: z.string().optional().describe('socat executable (bridges); default: `socat` found on PATH'),
    setprivPath: z.string().optional().describe('setpriv executable (util-linux); default: `setpriv` found on PATH'),
    workspaceBacking: z
      .enum(['ext4', 'tmpfs'])
      .default(D.workspaceBacking)
      .describe(
        "What holds the workspace (diskMb) and the scratch area (scratchMb). ext4: each is a sparse image file in the sandbox's " +
          'directory, formatted ext4 (no journal) and loop-mounted nosuid,nodev; written pages are reclaimable page cache, so the ' +
          'memory limit does not cap the disk, and full images fail writes with ENOSPC (needs e2fsprogs and loop devices). tmpfs: ' +
          'each is a size-capped tmpfs, faster to create, but every byte stored counts toward the memory limit: with no swap a ' +
          'large write OOM-kills instead of failing with ENOSPC',
      ),
    ext4PoolSize: z
      .number()
      .int()
      .min(0)
      .max(64)
      .default(D.ext4PoolSize)
      .describe(
        'ext4 backing: formatted and mounted image pairs kept ready per size (diskMb and scratchMb), for the two most recently ' +
          "used sizes, so that create() only moves a pair into the sandbox's directory. Refilled in the background after each " +
          'create; removed by close(). 0 formats on demand',
      ),
    scratchMb: z
      .number()
      .positive()
      .optional()
      .describe("Size in MiB of the second filesystem holding HOME, /tmp and /dev/shm (the CLI's own state); default: the sandbox's diskMb"),
    cgroupParent: z.string().min(1).default(D.cgroupParent).describe("Parent cgroup of every sandbox's group, relative to each hierarchy root"),
    hostLimits: z
      .custom<HostLimitSettings>((value) => typeof value === 'object' && value !== null)
      .optional()
      .describe('Host-wide ceilings (pids, memory, cpus) on the parent cgroup; what is not given is derived from the host'),
    warmPoolSize: z
      .number()
      .int()
      .min(0)
      .max(64)
      .default(D.warmPoolSize)
      .describe(
        'Sandboxes kept ready per shape (diskMb, scratchMb, bridges, read-only paths), for the two most recently used shapes: ' +
          'created ahead of need with the first launch chain started. create() without an id takes one and applies its ' +
          'memory/cpu/pids; refilled in the background; destroyed by close(). Needs bash and env(1). 0 creates every sandbox on demand',
      ),
    favorDynamicCgroups: z
      .boolean()
      .default(D.favorDynamicCgroups)
      .describe(
        "Mounts a small cgroup hierarchy with the kernel's favordynmods option (see cgroups) so a process joining a sandbox's " +
          'cgroups does not wait for an RCU grace period (~20 ms measured on an idle host, on every launch). Host-wide: forks and ' +
          'exits take a slightly slower path, until reboot. When the kernel refuses (before Linux 6.2, or v1 hierarchies disabled), ' +
          'a warning is logged and sandboxes work as before',
      ),
    readOnlySystemPaths: z
      .array(z.string())
      .readonly()
      .default(D.readOnlySystemPaths)
      .describe(
        'Host system paths visible read-only at the same place inside. Directories are bound; symlinks (/bin -> usr/bin on ' +
          'usr-merged systems) are recreated; missing paths are skipped. /etc is built per sandbox (isolation/etc-files.ts); ' +
          "adding /etc here shows the host's whole /etc instead",
      ),
    logger: z.custom<LocalSandboxLogger>((value) => typeof value === 'object' && value !== null).optional(),
  })
  .strict()
  .refine((settings) => settings.uidRangeStart + settings.uidRangeSize <= 2 ** 31, {
    message: 'the uid range must end at or below 2^31',
    path: ['uidRangeSize'],
  });

/** What createLocalSandboxProvider() takes. */
export type LocalSandboxSettings = z.input<typeof localSandboxSettingsSchema>;
/** The settings with every default applied and rootDir absolute. */
export type ResolvedLocalSandboxSettings = z.output<typeof localSandboxSettingsSchema>;

/** Parses the settings; CONFIG_INVALID names each problem. The tmpfs backing keeps no image pairs. */
export function resolveLocalSandboxSettings(settings: LocalSandboxSettings): ResolvedLocalSandboxSettings {
  const result = localSandboxSettingsSchema.safeParse(settings);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'settings'}: ${issue.message}`);
    throw new HangarError('CONFIG_INVALID', `invalid local sandbox settings: ${problems.join('; ')}`, { details: { problems } });
  }
  const resolved = result.data;
  return { ...resolved, rootDir: path.resolve(resolved.rootDir), ext4PoolSize: resolved.workspaceBacking === 'ext4' ? resolved.ext4PoolSize : 0 };
}
