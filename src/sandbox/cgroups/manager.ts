// The cgroup manager: detects the layout, prepares the parent group (`hangar` by default) with its
// host-wide ceilings, and creates, lists and opens one group per sandbox under it.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { HangarError } from '../../errors/errors.js';
import { detectCgroupLayout } from './detect.js';
import { assertPositiveLimits, mkdirFresh, NAME_PATTERN, removeDir, unavailable, validateRelative } from './files.js';
import { PARENT_CPU_SHARES, PARENT_CPU_WEIGHT, readHostFacts, resolveHostLimits } from './host-limits.js';
import type { CgroupLayout, CgroupLimits, CgroupManager, CgroupManagerOptions, HostCeilings, SandboxCgroup } from './types.js';
import { prepareV1Parent, v1Group, writeV1Ceilings, writeV1Limits, writeV1Setup, type V1Context, type V1Dirs } from './v1.js';
import { prepareV2Parent, v2Group, writeV2Ceilings, writeV2Limits, writeV2Setup } from './v2.js';

export function createCgroupManager(options: CgroupManagerOptions = {}): CgroupManager {
  const parent = options.parent ?? 'hangar';
  validateRelative(parent, 'parent');
  let layoutPromise: Promise<CgroupLayout> | undefined;
  let preparedLayout: CgroupLayout | undefined;
  let preparedCeilings: HostCeilings | undefined;

  /** Resolves the ceilings (settings, then process defaults, then the host) and writes them on the parent. */
  const writeCeilings = async (layout: CgroupLayout): Promise<HostCeilings> => {
    let limits;
    try {
      limits = resolveHostLimits(options.hostLimits ?? {}, options.hostFacts ?? (await readHostFacts()));
    } catch (error) {
      throw new HangarError('CONFIG_INVALID', `invalid sandbox hostLimits: ${(error as Error).message}`, { cause: error });
    }
    const tcp = layout.version === 'v2' ? await writeV2Ceilings(parentDirs(layout)[0] ?? '', limits) : await writeV1Ceilings(layout, parent, limits);
    return {
      parent,
      version: layout.version,
      pids: limits.pids,
      memoryBytes: limits.memoryBytes,
      cpus: limits.cpus,
      cpuWeight: layout.version === 'v2' ? PARENT_CPU_WEIGHT : PARENT_CPU_SHARES,
      derived: limits.derived,
      tcp,
    };
  };

  const prepare = (): Promise<CgroupLayout> => {
    layoutPromise ??= (async () => {
      const layout = options.layout !== undefined ? structuredClone(options.layout) : await detectCgroupLayout(options.mountinfoPath);
      if (layout.version === 'v2') {
        if (layout.unifiedRoot === undefined) throw unavailable('cgroup v2 layout without a mount point');
        await prepareV2Parent(layout.unifiedRoot, parent);
      } else {
        await prepareV1Parent(layout, parent);
      }
      preparedCeilings = await writeCeilings(layout);
      preparedLayout = layout;
      options.onCeilings?.(structuredClone(preparedCeilings));
      return layout;
    })();
    // A failed preparation is retried by the next call (the host may have been fixed meanwhile).
    layoutPromise.catch(() => {
      layoutPromise = undefined;
    });
    return layoutPromise;
  };

  /** What v1 group limits depend on: the parent's CPU ceiling and whether TCP buffers get a limit. */
  const v1Context = (): V1Context => ({ parentCpus: preparedCeilings?.cpus, tcpLimit: preparedCeilings?.tcp.state === 'limited' });

  const create = async (name: string, limits: CgroupLimits): Promise<SandboxCgroup> => {
    validateRelative(name, 'name');
    assertPositiveLimits(limits);
    const layout = preparedLayout ?? (await prepare());
    return layout.version === 'v2' ? createV2(layout, name, limits) : createV1(layout, name, limits);
  };

  const createV2 = async (layout: CgroupLayout, name: string, limits: CgroupLimits): Promise<SandboxCgroup> => {
    const dir = path.join(layout.unifiedRoot ?? '/sys/fs/cgroup', parent, name);
    await mkdirFresh(dir);
    const cgroup = v2Group(name, dir);
    try {
      await writeV2Setup(dir);
      await writeV2Limits(dir, limits);
    } catch (error) {
      await cgroup.remove().catch(() => undefined);
      throw error;
    }
    return cgroup;
  };

  /** The directories of a v1 group in each hierarchy. */
  const v1Dirs = (layout: CgroupLayout, name: string): V1Dirs => {
    const { memory, cpu, pids, freezer } = layout.v1Roots;
    if (memory === undefined || cpu === undefined || pids === undefined) throw unavailable('cgroup v1 memory, cpu and pids controllers are required');
    return {
      memory: path.join(memory, parent, name),
      cpu: path.join(cpu, parent, name),
      pids: path.join(pids, parent, name),
      freezer: freezer === undefined ? undefined : path.join(freezer, parent, name),
      kill: layout.killRoot === undefined ? undefined : path.join(layout.killRoot, parent, name),
    };
  };

  /** Every directory of a v1 group; hierarchies that share a mount (cpu,cpuacct) appear once. */
  const allV1Dirs = (dirs: V1Dirs): string[] => [
    ...new Set([dirs.memory, dirs.cpu, dirs.pids, dirs.freezer, dirs.kill].filter((dir): dir is string => dir !== undefined)),
  ];

  /** Parent directories in every hierarchy in use. */
  const parentDirs = (layout: CgroupLayout): string[] =>
    layout.version === 'v2'
      ? [path.join(layout.unifiedRoot ?? '/sys/fs/cgroup', parent)]
      : [...new Set([...Object.values(layout.v1Roots), layout.killRoot].filter((root): root is string => root !== undefined))].map((root) =>
          path.join(root, parent),
        );

  const list = async (): Promise<string[]> => {
    const layout = preparedLayout ?? (await prepare());
    const names = new Set<string>();
    for (const dir of parentDirs(layout)) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) if (entry.isDirectory() && NAME_PATTERN.test(entry.name)) names.add(entry.name);
    }
    return [...names].sort();
  };

  const openGroup = async (name: string): Promise<SandboxCgroup> => {
    validateRelative(name, 'name');
    const layout = preparedLayout ?? (await prepare());
    if (layout.version === 'v2') return v2Group(name, path.join(layout.unifiedRoot ?? '/sys/fs/cgroup', parent, name));
    const dirs = v1Dirs(layout, name);
    return v1Group(name, dirs, allV1Dirs(dirs), v1Context);
  };

  const createV1 = async (layout: CgroupLayout, name: string, limits: CgroupLimits): Promise<SandboxCgroup> => {
    const dirs = v1Dirs(layout, name);
    const allDirs = allV1Dirs(dirs);
    const created: string[] = [];
    const cgroup = v1Group(name, dirs, allDirs, v1Context);
    try {
      for (const dir of allDirs) {
        await mkdirFresh(dir);
        created.push(dir);
      }
      await writeV1Setup(dirs);
      // The TCP buffer limit is among these: it counts only sockets made after it is set, so it is
      // written before any process can join the group.
      await writeV1Limits(dirs, limits, v1Context());
    } catch (error) {
      for (const dir of created.reverse()) await removeDir(dir).catch(() => undefined);
      throw error;
    }
    return cgroup;
  };

  return { parent, prepare, ceilings: () => (preparedCeilings === undefined ? undefined : structuredClone(preparedCeilings)), create, list, open: openGroup };
}
