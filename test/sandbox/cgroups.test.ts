// Cgroup manager: mountinfo parsing, host-wide ceilings and their defaults, v1 and v2 control files
// (on fake hierarchies), and on this host's real cgroups: killing through each v1 strategy
// (cgroup.kill, freezer, SIGKILL loop), limits, the parent's ceilings and the TCP buffer limit.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createCgroupManager,
  detectCgroupLayout,
  favorDynamicModifications,
  parseCgroupMounts,
  resolveHostLimits,
  splitParentMemory,
  tcpLimitBytes,
  type CgroupLayout,
  type HostFacts,
} from '../../src/sandbox/cgroups.js';
import { exitOf, waitAllGone } from '../helpers/sandbox-host.js';

const temps: string[] = [];
/** Parent groups the real-hierarchy tests made (their own names, never `hangar`). */
const testParents = new Set(['hangar-test']);
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
  // The real-hierarchy tests use their own parent groups; remove them from every hierarchy.
  const layout = await detectCgroupLayout().catch(() => undefined);
  const roots = layout === undefined ? [] : [layout.unifiedRoot, layout.killRoot, ...Object.values(layout.v1Roots)];
  for (const root of new Set(roots)) {
    for (const parent of testParents) if (root !== undefined) await rmdir(path.join(root, parent)).catch(() => undefined);
  }
});

const MIB = 1024 * 1024;
/** Host facts of a 2-core, 24 GiB host with the kernel's default pid_max. */
const FACTS: HostFacts = { pidMax: 32768, memTotalBytes: 24 * 1024 * MIB, cores: 2 };

async function tempDir(): Promise<string> {
  const dir = path.join(os.tmpdir(), `hangar-cgroup-test-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  temps.push(dir);
  return dir;
}

describe('parseCgroupMounts', () => {
  it('finds v1 controllers and cgroup2 mounts', () => {
    const mountinfo = [
      '30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755',
      '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate',
      '33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
      '34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
      '35 30 0:31 / /sys/fs/cgroup/my\\040pids rw shared:5 - cgroup cgroup rw,pids',
      '36 30 0:32 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd',
    ].join('\n');
    expect(parseCgroupMounts(mountinfo)).toEqual([
      { mountPoint: '/sys/fs/cgroup/unified', fsType: 'cgroup2', controllers: [], superOptions: ['rw', 'nsdelegate'] },
      { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fsType: 'cgroup', controllers: ['cpu', 'cpuacct'], superOptions: ['rw', 'cpu', 'cpuacct'] },
      { mountPoint: '/sys/fs/cgroup/memory', fsType: 'cgroup', controllers: ['memory'], superOptions: ['rw', 'memory'] },
      { mountPoint: '/sys/fs/cgroup/my pids', fsType: 'cgroup', controllers: ['pids'], superOptions: ['rw', 'pids'] },
      { mountPoint: '/sys/fs/cgroup/systemd', fsType: 'cgroup', controllers: [], superOptions: ['rw', 'xattr', 'name=systemd'] },
    ]);
  });

  it('detects v2 when the unified mount lists memory', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    const mountinfo = path.join(root, 'mountinfo');
    await writeFile(mountinfo, `25 1 0:26 / ${root} rw - cgroup2 cgroup2 rw\n`);
    expect(await detectCgroupLayout(mountinfo)).toEqual({ version: 'v2', unifiedRoot: root, v1Roots: {} });
  });

  it('detects this host', async () => {
    const layout = await detectCgroupLayout();
    expect(['v1', 'v2']).toContain(layout.version);
  });
});

describe('favorDynamicModifications', () => {
  const plainMountinfo = '34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n';

  it('mounts its named hierarchy with favordynmods when no cgroup mount has the option', async () => {
    const root = await tempDir();
    const mountinfo = path.join(root, 'mountinfo');
    await writeFile(mountinfo, plainMountinfo);
    const mountPoint = path.join(root, 'favor');
    const calls: string[][] = [];
    const outcome = await favorDynamicModifications({
      mountinfoPath: mountinfo,
      mountPoint,
      // Stands for mount(8): the kernel then lists the new mount with the option.
      mount: async (args) => {
        calls.push(args);
        await writeFile(mountinfo, `${plainMountinfo}40 30 0:40 / ${mountPoint} rw - cgroup cgroup rw,favordynmods,name=hangar-favordynmods\n`);
      },
    });
    expect(outcome).toEqual({ state: 'mounted' });
    expect(calls).toEqual([['-t', 'cgroup', '-o', 'none,name=hangar-favordynmods,favordynmods', 'cgroup', mountPoint]]);
  });

  it('mounts nothing when a cgroup mount already favors dynamic modifications', async () => {
    const root = await tempDir();
    const mountinfo = path.join(root, 'mountinfo');
    await writeFile(mountinfo, '31 30 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,favordynmods\n');
    const calls: string[][] = [];
    expect(
      await favorDynamicModifications({ mountinfoPath: mountinfo, mountPoint: path.join(root, 'favor'), mount: async (args) => calls.push(args) }),
    ).toEqual({ state: 'already' });
    expect(calls).toEqual([]);
  });

  it('reports why when the kernel refuses the option', async () => {
    const root = await tempDir();
    const mountinfo = path.join(root, 'mountinfo');
    await writeFile(mountinfo, plainMountinfo);
    const outcome = await favorDynamicModifications({
      mountinfoPath: mountinfo,
      mountPoint: path.join(root, 'favor'),
      mount: () => Promise.reject(new Error('mount: cgroup: bad option')),
    });
    expect(outcome).toEqual({ state: 'unavailable', reason: 'mount: cgroup: bad option' });
  });
});

describe('host-wide ceilings', () => {
  it('derives each value left out from the host: 75% of pid_max, RAM minus max(1 GiB, 10%), every core', () => {
    expect(resolveHostLimits({}, FACTS)).toEqual({
      pids: 24576,
      memoryBytes: Math.floor((24 * 1024 * 0.9 * MIB) / MIB) * MIB,
      cpus: 2,
      derived: ['pids', 'memory', 'cpus'],
    });
    // A small host keeps at least 1 GiB, and sandboxes at least half of RAM.
    expect(resolveHostLimits({}, { pidMax: 4194304, memTotalBytes: 4096 * MIB, cores: 8 })).toMatchObject({ pids: 3145728, memoryBytes: 3072 * MIB, cpus: 8 });
    expect(resolveHostLimits({}, { pidMax: 1000, memTotalBytes: 1536 * MIB, cores: 1 })).toMatchObject({ pids: 750, memoryBytes: 768 * MIB });
    expect(resolveHostLimits({ pids: 100, memoryMb: 512, cpus: 1.5 }, FACTS)).toEqual({ pids: 100, memoryBytes: 512 * MIB, cpus: 1.5, derived: [] });
    expect(() => resolveHostLimits({ cpus: 0 }, FACTS)).toThrow(RangeError);
  });

  it('gives TCP buffers an eighth of a sandbox memory limit (8 to 256 MiB) and a sixteenth of the parent ceiling (16 MiB to 1 GiB)', () => {
    expect(tcpLimitBytes(256 * MIB)).toBe(32 * MIB);
    expect(tcpLimitBytes(32 * MIB)).toBe(8 * MIB);
    expect(tcpLimitBytes(16 * 1024 * MIB)).toBe(256 * MIB);
    expect(tcpLimitBytes(100 * MIB + 123) % 4096).toBe(0);
    expect(splitParentMemory(2048 * MIB)).toEqual({ memoryBytes: 1920 * MIB, tcpBytes: 128 * MIB });
    expect(splitParentMemory(64 * 1024 * MIB)).toEqual({ memoryBytes: 63 * 1024 * MIB, tcpBytes: 1024 * MIB });
    expect(splitParentMemory(16 * MIB)).toEqual({ memoryBytes: 8 * MIB, tcpBytes: 8 * MIB });
  });
});

describe('cgroup v2 control files (fake hierarchy)', () => {
  it('enables controllers, writes limits and reads stats', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    await writeFile(path.join(root, 'cgroup.subtree_control'), '');
    const manager = createCgroupManager({
      parent: 'hangar',
      layout: { version: 'v2', unifiedRoot: root, v1Roots: {} },
      hostFacts: FACTS,
      hostLimits: { cpus: 1.5 },
    });
    await manager.prepare();
    // The parent's ceilings: derived pids and memory, the asked CPU cap, half the default weight.
    const parentFile = (file: string): Promise<string> => readFile(path.join(root, 'hangar', file), 'utf8');
    expect(await parentFile('pids.max')).toBe('24576');
    expect(await parentFile('memory.max')).toBe(String(resolveHostLimits({}, FACTS).memoryBytes));
    expect(await parentFile('cpu.max')).toBe('150000 100000');
    expect(await parentFile('cpu.weight')).toBe('50');
    expect(manager.ceilings()).toMatchObject({
      parent: 'hangar',
      version: 'v2',
      pids: 24576,
      cpus: 1.5,
      cpuWeight: 50,
      derived: ['pids', 'memory'],
      tcp: { state: 'counted' },
    });
    const group = await manager.create('sb1', { memoryBytes: 64 * 1024 * 1024, cpus: 0.5, pids: 100 });
    const dir = path.join(root, 'hangar/sb1');
    expect(group.paths).toEqual([dir]);
    expect(group.procsFiles).toEqual([path.join(dir, 'cgroup.procs')]);
    expect(await readFile(path.join(dir, 'memory.max'), 'utf8')).toBe(String(64 * 1024 * 1024));
    expect(await readFile(path.join(dir, 'cpu.max'), 'utf8')).toBe('50000 100000');
    expect(await readFile(path.join(dir, 'pids.max'), 'utf8')).toBe('100');
    await writeFile(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n');
    await writeFile(path.join(dir, 'memory.peak'), '123456\n');
    await writeFile(path.join(dir, 'cgroup.procs'), '');
    expect(await group.stats()).toEqual({ oomKills: 2, memoryPeakBytes: 123456, processCount: 0 });
  });

  it('refuses when a controller is missing', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'cgroup.controllers'), 'cpu io pids\n');
    const manager = createCgroupManager({ layout: { version: 'v2', unifiedRoot: root, v1Roots: {} } });
    await expect(manager.prepare()).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
  });
});

describe('cgroup v1 control files (fake hierarchy)', () => {
  it('writes the parent ceilings, splitting memory with the TCP buffer limit, and lowers a child quota above the new CPU cap first', async () => {
    const root = await tempDir();
    const layout: CgroupLayout = { version: 'v1', v1Roots: { memory: path.join(root, 'memory'), cpu: path.join(root, 'cpu'), pids: path.join(root, 'pids') } };
    // The kernel lists memory.kmem.tcp.* in every memory group; a group left by an earlier run asks 4 cores.
    await mkdir(path.join(root, 'memory/hangar'), { recursive: true });
    await writeFile(path.join(root, 'memory/hangar/memory.kmem.tcp.limit_in_bytes'), '9223372036854771712');
    await mkdir(path.join(root, 'cpu/hangar/old'), { recursive: true });
    await writeFile(path.join(root, 'cpu/hangar/old/cpu.cfs_quota_us'), '400000');
    const manager = createCgroupManager({ parent: 'hangar', layout, hostFacts: FACTS, hostLimits: { pids: 300, memoryMb: 2048, cpus: 1 } });
    await manager.prepare();
    const read = (file: string): Promise<string> => readFile(path.join(root, file), 'utf8');
    expect(await read('pids/hangar/pids.max')).toBe('300');
    expect(await read('memory/hangar/memory.limit_in_bytes')).toBe(String(1920 * MIB));
    expect(await read('memory/hangar/memory.kmem.tcp.limit_in_bytes')).toBe(String(128 * MIB));
    expect(await read('cpu/hangar/cpu.cfs_quota_us')).toBe('100000');
    expect(await read('cpu/hangar/cpu.shares')).toBe('512');
    expect(await read('cpu/hangar/old/cpu.cfs_quota_us')).toBe('100000');
    expect(manager.ceilings()).toMatchObject({
      version: 'v1',
      pids: 300,
      memoryBytes: 2048 * MIB,
      cpus: 1,
      cpuWeight: 512,
      derived: [],
      tcp: { state: 'limited', parentBytes: 128 * MIB },
    });
    // A sandbox gets its TCP limit at creation and again with new limits; its CPU quota stays within the parent's.
    const group = await manager.create('sb1', { memoryBytes: 256 * MIB, cpus: 2, pids: 64 });
    expect(await read('memory/hangar/sb1/memory.kmem.tcp.limit_in_bytes')).toBe(String(32 * MIB));
    expect(await read('cpu/hangar/sb1/cpu.cfs_quota_us')).toBe('100000');
    await group.setLimits({ memoryBytes: 1024 * MIB, cpus: 0.5, pids: 64 });
    expect(await read('memory/hangar/sb1/memory.kmem.tcp.limit_in_bytes')).toBe(String(128 * MIB));
    expect(await read('cpu/hangar/sb1/cpu.cfs_quota_us')).toBe('50000');
  });

  it('writes limits per controller and reads stats', async () => {
    const root = await tempDir();
    const layout: CgroupLayout = { version: 'v1', v1Roots: { memory: path.join(root, 'memory'), cpu: path.join(root, 'cpu'), pids: path.join(root, 'pids') } };
    const manager = createCgroupManager({ parent: 'hangar', layout, hostFacts: FACTS });
    await manager.prepare();
    // A kernel without memory.kmem.tcp.*: no TCP limit anywhere, and the report says so.
    expect(manager.ceilings()?.tcp).toMatchObject({ state: 'unavailable', detail: expect.stringContaining('net.ipv4.tcp_mem') });
    expect(await readFile(path.join(root, 'memory/hangar/memory.limit_in_bytes'), 'utf8')).toBe(String(resolveHostLimits({}, FACTS).memoryBytes));
    const group = await manager.create('sb1', { memoryBytes: 1024 * 1024 * 1024, cpus: 2, pids: 512 });
    await expect(readFile(path.join(root, 'memory/hangar/sb1/memory.kmem.tcp.limit_in_bytes'))).rejects.toThrow();
    expect(await readFile(path.join(root, 'memory/hangar/sb1/memory.limit_in_bytes'), 'utf8')).toBe(String(1024 * 1024 * 1024));
    expect(await readFile(path.join(root, 'cpu/hangar/sb1/cpu.cfs_quota_us'), 'utf8')).toBe('200000');
    expect(await readFile(path.join(root, 'cpu/hangar/sb1/cpu.cfs_period_us'), 'utf8')).toBe('100000');
    expect(await readFile(path.join(root, 'pids/hangar/sb1/pids.max'), 'utf8')).toBe('512');
    await writeFile(path.join(root, 'memory/hangar/sb1/memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
    await writeFile(path.join(root, 'memory/hangar/sb1/memory.max_usage_in_bytes'), '999\n');
    await writeFile(path.join(root, 'pids/hangar/sb1/cgroup.procs'), '');
    expect(await group.stats()).toEqual({ oomKills: 3, memoryPeakBytes: 999, processCount: 0 });
  });
});

const host = await detectCgroupLayout().catch(() => undefined);
const hostIsV1 = host?.version === 'v1' && process.getuid?.() === 0;

describe.skipIf(!hostIsV1)('cgroup v1 kill strategies (this host)', () => {
  const strategies: Array<[string, (layout: CgroupLayout) => CgroupLayout]> = [
    ['cgroup.kill', (layout) => layout],
    ['freezer', (layout) => ({ ...layout, killRoot: undefined })],
    ['SIGKILL loop', (layout) => ({ ...layout, killRoot: undefined, v1Roots: { ...layout.v1Roots, freezer: undefined } })],
  ];
  for (const [name, shape] of strategies) {
    it(`kills a process tree with ${name} and removes the group`, async () => {
      const base = await detectCgroupLayout();
      const layout = shape(base);
      const manager = createCgroupManager({ parent: 'hangar-test', layout: JSON.parse(JSON.stringify(layout)) as CgroupLayout });
      const group = await manager.create(`test-${randomBytes(4).toString('hex')}`, { memoryBytes: 128 * 1024 * 1024, cpus: 1, pids: 64 });
      const join = group.procsFiles.map((file) => `echo $$ > ${file}`).join(' && ');
      const child = spawn('/bin/sh', ['-c', `${join} && exec sh -c 'sleep 60 & sleep 60 & echo ready; wait'`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = exitOf(child);
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const pids = await group.pids();
      expect(pids.length).toBe(3);
      expect(await group.kill()).toBe(true);
      await exited;
      expect(await waitAllGone(pids)).toEqual([]);
      await group.remove();
      for (const dir of group.paths) await expect(readFile(path.join(dir, 'cgroup.procs'))).rejects.toThrow();
    });
  }
});

describe.skipIf(!hostIsV1)('cgroup v1 limits (this host)', () => {
  it('raises and cuts the memory limit (memory+swap kept equal where the kernel accounts swap) and switches the CPU weight', async () => {
    const manager = createCgroupManager({ parent: 'hangar-test' });
    const mib = 1024 * 1024;
    const group = await manager.create(`limits-${randomBytes(4).toString('hex')}`, { memoryBytes: 256 * mib, cpus: 1, pids: 64, background: true });
    try {
      const memoryDir = group.paths.find((dir) => dir.includes('/memory/'))!;
      const cpuDir = group.paths.find((dir) => dir.includes('/cpu'))!;
      const read = (dir: string, file: string): Promise<string> => readFile(path.join(dir, file), 'utf8').then((text) => text.trim());
      const memsw = await readFile(path.join(memoryDir, 'memory.memsw.limit_in_bytes'), 'utf8').then(
        () => true,
        () => false,
      );
      expect(await read(cpuDir, 'cpu.shares')).toBe('2');
      // The kernel refuses memory above memory+swap: a raise in the wrong order would fail here.
      for (const [memoryMb, cpus] of [
        [1024, 2],
        [128, 0.5],
      ] as const) {
        await group.setLimits({ memoryBytes: memoryMb * mib, cpus, pids: 96 });
        expect(await read(memoryDir, 'memory.limit_in_bytes')).toBe(String(memoryMb * mib));
        if (memsw) expect(await read(memoryDir, 'memory.memsw.limit_in_bytes')).toBe(String(memoryMb * mib));
        expect(await read(cpuDir, 'cpu.cfs_quota_us')).toBe(String(cpus * 100_000));
        expect(await read(cpuDir, 'cpu.shares')).toBe('1024');
      }
    } finally {
      await group.remove();
    }
  });
});

describe.skipIf(!hostIsV1)('cgroup v1 host-wide ceilings and TCP buffer limit (this host)', () => {
  const read = (dir: string, file: string): Promise<string> => readFile(path.join(dir, file), 'utf8').then((text) => text.trim());

  it('writes the parent ceilings and reads them back; a sandbox group has its TCP buffer limit before any process joins', async () => {
    const parent = `hangar-test-ceil-${randomBytes(4).toString('hex')}`;
    testParents.add(parent);
    const manager = createCgroupManager({ parent, hostLimits: { pids: 300, memoryMb: 2048, cpus: 1.5 } });
    const layout = await manager.prepare();
    const memoryParent = path.join(layout.v1Roots.memory!, parent);
    const cpuParent = path.join(layout.v1Roots.cpu!, parent);
    expect(await read(path.join(layout.v1Roots.pids!, parent), 'pids.max')).toBe('300');
    expect(await read(memoryParent, 'memory.limit_in_bytes')).toBe(String(1920 * MIB));
    expect(await read(memoryParent, 'memory.kmem.tcp.limit_in_bytes')).toBe(String(128 * MIB));
    expect(await read(cpuParent, 'cpu.cfs_quota_us')).toBe('150000');
    expect(await read(cpuParent, 'cpu.shares')).toBe('512');
    expect(manager.ceilings()).toMatchObject({ pids: 300, memoryBytes: 2048 * MIB, cpus: 1.5, tcp: { state: 'limited', parentBytes: 128 * MIB } });

    const group = await manager.create(`tcp-${randomBytes(4).toString('hex')}`, { memoryBytes: 256 * MIB, cpus: 2, pids: 64 });
    try {
      const memoryDir = group.paths.find((dir) => dir.startsWith(`${layout.v1Roots.memory!}/`))!;
      const cpuDir = group.paths.find((dir) => dir.startsWith(`${layout.v1Roots.cpu!}/`))!;
      expect(await group.pids()).toEqual([]);
      expect(await read(memoryDir, 'memory.kmem.tcp.limit_in_bytes')).toBe(String(32 * MIB));
      // The kernel refuses a child quota above its parent's: 2 cores asked, the parent's 1.5 written.
      expect(await read(cpuDir, 'cpu.cfs_quota_us')).toBe('150000');
      // A pooled sandbox taken for more memory gets a larger TCP limit too.
      await group.setLimits({ memoryBytes: 512 * MIB, cpus: 1, pids: 64 });
      expect(await read(memoryDir, 'memory.kmem.tcp.limit_in_bytes')).toBe(String(64 * MIB));
      expect(await read(cpuDir, 'cpu.cfs_quota_us')).toBe('100000');
    } finally {
      await group.remove();
    }
  });

  it('derives the ceilings from this host when none are configured', async () => {
    const parent = `hangar-test-ceil-${randomBytes(4).toString('hex')}`;
    testParents.add(parent);
    const manager = createCgroupManager({ parent });
    const layout = await manager.prepare();
    const taskLimit = Math.min(...(await Promise.all(['pid_max', 'threads-max'].map((file) => readFile(`/proc/sys/kernel/${file}`, 'utf8').then(Number)))));
    expect(await read(path.join(layout.v1Roots.pids!, parent), 'pids.max')).toBe(String(Math.floor(taskLimit * 0.75)));
    const ceilings = manager.ceilings()!;
    expect(ceilings.derived).toEqual(['pids', 'memory', 'cpus']);
    const split = splitParentMemory(ceilings.memoryBytes);
    expect(await read(path.join(layout.v1Roots.memory!, parent), 'memory.limit_in_bytes')).toBe(String(split.memoryBytes));
    expect(await read(path.join(layout.v1Roots.cpu!, parent), 'cpu.cfs_quota_us')).toBe(String(ceilings.cpus * 100_000));
  });
});
