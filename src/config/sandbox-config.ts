// The `sandbox` section of the configuration: the provider, its uids and storage, the warm pool,
// host-wide ceilings, and the resources a sandbox gets by default and at most.
import { z } from 'zod';
import { LOCAL_SANDBOX_DEFAULTS } from '../sandbox/providers/local/settings.js';

const resourcesSchema = z
  .object({
    memoryMb: z.number().int().positive().describe('Memory limit in MiB'),
    cpus: z.number().positive().describe('CPU cores (fractions allowed)'),
    diskMb: z.number().int().positive().describe('Workspace + HOME + /tmp size limit in MiB'),
    pids: z.number().int().positive().describe('Maximum processes and threads alive at once'),
  })
  .strict();

export type ResourceLimits = z.infer<typeof resourcesSchema>;

export const sandboxConfigSchema = z
  .object({
    provider: z.enum(['local']).default('local').describe('Sandbox provider adapter'),
    rootDir: z.string().optional().describe('Host directory of per-sandbox workspaces; default <dataDir>/sandboxes'),
    uidRangeStart: z.number().int().min(1000).default(LOCAL_SANDBOX_DEFAULTS.uidRangeStart).describe('First host uid handed to sandboxes'),
    uidRangeSize: z.number().int().positive().default(LOCAL_SANDBOX_DEFAULTS.uidRangeSize).describe('Number of host uids (= concurrent sandboxes)'),
    workspaceBacking: z
      .enum(['ext4', 'tmpfs'])
      .default(LOCAL_SANDBOX_DEFAULTS.workspaceBacking)
      .describe(
        "What holds each local sandbox's workspace and HOME, /tmp: ext4 = sparse image files on the rootDir disk, loop-mounted " +
          '(full disk -> ENOSPC; needs e2fsprogs and loop devices); tmpfs = memory, counted toward memoryMb (faster to create, ' +
          'but a workspace never holds more than the memory limit and a large write is OOM-killed)',
      ),
    favorDynamicCgroups: z
      .boolean()
      .default(LOCAL_SANDBOX_DEFAULTS.favorDynamicCgroups)
      .describe(
        "Mount a small cgroup hierarchy with the kernel's favordynmods option, so a process joining a sandbox's cgroups does not " +
          'wait ~20 ms for an RCU grace period (Linux 6.2+). Host-wide until reboot: forks and exits take a slightly slower path',
      ),
    warmPoolSize: z
      .number()
      .int()
      .min(0)
      .max(64)
      .default(LOCAL_SANDBOX_DEFAULTS.warmPoolSize)
      .describe(
        'Sandboxes kept ready for each of the two most recently used shapes (disk size, bridges), with their first launch ' +
          'already started, so a task or session starts its CLI without waiting for sandbox setup; 0 creates each sandbox on demand',
      ),
    hostLimits: z
      .object({
        pids: z
          .number()
          .int()
          .positive()
          .optional()
          .describe(
            'Most processes and threads of all sandboxes together; each live sandbox reserves its own pids limit out of it (a sandbox ' +
              'that would not fit is refused with 429). Default 75% of kernel.pid_max (or threads-max when lower)',
          ),
        memoryMb: z
          .number()
          .int()
          .positive()
          .optional()
          .describe('Most memory of all sandboxes together in MiB, TCP buffers included; default total RAM minus max(1 GiB, 10%)'),
        cpus: z
          .number()
          .positive()
          .optional()
          .describe('Most CPU time of all sandboxes together, in cores; default every core (the parent group also gets half the default CPU weight)'),
      })
      .strict()
      .default({})
      .describe('Host-wide ceilings on the parent cgroup that holds every local sandbox'),
    maxLive: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'Most sandboxes live at once for tasks, sessions and shared sandboxes (warm pool not counted); beyond it task and ' +
          'session requests that need a sandbox answer 429 with Retry-After. Default: derived from the host (memory, pid_max, uid range)',
      ),
    defaults: resourcesSchema.default({ memoryMb: 1024, cpus: 1, diskMb: 5120, pids: 512 }).describe('Resources of a sandbox when the request names none'),
    maximum: resourcesSchema.default({ memoryMb: 16384, cpus: 8, diskMb: 102400, pids: 4096 }).describe('Largest resources a request may ask for'),
  })
  .strict()
  .default({
    provider: 'local',
    uidRangeStart: LOCAL_SANDBOX_DEFAULTS.uidRangeStart,
    uidRangeSize: LOCAL_SANDBOX_DEFAULTS.uidRangeSize,
    workspaceBacking: LOCAL_SANDBOX_DEFAULTS.workspaceBacking,
    favorDynamicCgroups: LOCAL_SANDBOX_DEFAULTS.favorDynamicCgroups,
    warmPoolSize: LOCAL_SANDBOX_DEFAULTS.warmPoolSize,
    hostLimits: {},
    defaults: { memoryMb: 1024, cpus: 1, diskMb: 5120, pids: 512 },
    maximum: { memoryMb: 16384, cpus: 8, diskMb: 102400, pids: 4096 },
  });
