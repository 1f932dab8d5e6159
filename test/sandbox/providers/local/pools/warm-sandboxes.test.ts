// The warm pool's shape keys: what makes two specs interchangeable for a warm sandbox (pure).
import { describe, expect, it } from 'vitest';
import { poolSpec, shapeOf } from '../../../../../src/sandbox/providers/local/pools/warm-sandboxes.js';
import type { SandboxSpec } from '../../../../../src/sandbox/sandbox-provider.js';

const base: SandboxSpec = {
  resources: { memoryMb: 512, cpus: 1, diskMb: 64, pids: 128 },
  bridges: [
    { name: 'gateway', hostSocketPath: '/h/gw.sock', port: 4100 },
    { name: 'egress', hostSocketPath: '/h/eg.sock', port: 4101 },
  ],
  readOnlyPaths: ['/opt/b', '/opt/a'],
};

describe('local sandbox warm pool shapes', () => {
  it('ignores the cgroup limits (set when a sandbox is taken) and the order of bridges and read-only paths', () => {
    const same: SandboxSpec = {
      resources: { memoryMb: 2048, cpus: 2, diskMb: 64, pids: 512 },
      bridges: [...(base.bridges ?? [])].reverse(),
      readOnlyPaths: ['/opt/a', '/opt/b'],
    };
    expect(shapeOf(same, undefined)).toBe(shapeOf(base, undefined));
  });

  it('tells apart disk sizes, scratch sizes, bridges and read-only paths', () => {
    const key = shapeOf(base, undefined);
    expect(shapeOf({ ...base, resources: { ...base.resources, diskMb: 65 } }, undefined)).not.toBe(key);
    expect(shapeOf(base, 32)).not.toBe(key);
    // The scratch area defaults to the disk size.
    expect(shapeOf(base, 64)).toBe(key);
    expect(shapeOf({ ...base, bridges: base.bridges?.slice(1) }, undefined)).not.toBe(key);
    expect(shapeOf({ ...base, bridges: base.bridges?.map((bridge) => ({ ...bridge, port: bridge.port + 10 })) }, undefined)).not.toBe(key);
    expect(shapeOf({ ...base, bridges: base.bridges?.map((bridge) => ({ ...bridge, hostSocketPath: `${bridge.hostSocketPath}.2` })) }, undefined)).not.toBe(
      key,
    );
    expect(shapeOf({ ...base, readOnlyPaths: ['/opt/a'] }, undefined)).not.toBe(key);
    expect(shapeOf({ resources: base.resources } as SandboxSpec, undefined)).toBe(
      shapeOf({ resources: base.resources, bridges: [], readOnlyPaths: [] }, undefined),
    );
  });

  it('keys sandboxes by their given files too: other content, another shape', () => {
    const withFile = (content: string): SandboxSpec => ({ ...base, readOnlyFiles: [{ path: '/run/hangar/files/ca.pem', content }] });
    expect(shapeOf(withFile('a'), undefined)).toBe(shapeOf(withFile('a'), undefined));
    expect(shapeOf(withFile('a'), undefined)).not.toBe(shapeOf(withFile('b'), undefined));
    expect(shapeOf(withFile('a'), undefined)).not.toBe(shapeOf(base, undefined));
  });

  it('makes warm sandboxes from a copy of the spec without its id', () => {
    const spec: SandboxSpec = { ...base, id: 'named' };
    const copy = poolSpec(spec);
    expect(copy).toEqual({ resources: base.resources, bridges: base.bridges, readOnlyPaths: base.readOnlyPaths, readOnlyFiles: [] });
    expect(copy.resources).not.toBe(spec.resources);
    expect(copy.bridges).not.toBe(spec.bridges);
  });
});
