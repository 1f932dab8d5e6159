// The warm pool's keys: sandboxes are kept ready per shape, everything fixed at creation but the
// cgroup limits, and used only while the host paths they bind are the same files.
import { stat } from 'node:fs/promises';
import type { SandboxSpec } from '../../../sandbox-provider.js';

/** What the warm pool keys sandboxes by: disk sizes, bridges and read-only paths (order does not matter). */
export function shapeOf(spec: SandboxSpec, scratchMb: number | undefined): string {
  return JSON.stringify({
    diskMb: spec.resources.diskMb,
    scratchMb: scratchMb ?? spec.resources.diskMb,
    bridges: [...(spec.bridges ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1)).map((bridge) => [bridge.name, bridge.hostSocketPath, bridge.port]),
    readOnlyPaths: [...(spec.readOnlyPaths ?? [])].sort(),
  });
}

/** The spec the warm pool makes sandboxes of this shape from (no id, copied). */
export function poolSpec(spec: SandboxSpec): SandboxSpec {
  return { resources: { ...spec.resources }, bridges: [...(spec.bridges ?? [])], readOnlyPaths: [...(spec.readOnlyPaths ?? [])] };
}

/** Device and inode of each host path a spec binds in; a warm sandbox is used only while they are unchanged. */
export async function bindIdentities(spec: SandboxSpec): Promise<string> {
  const paths = [...(spec.bridges ?? []).map((bridge) => bridge.hostSocketPath), ...(spec.readOnlyPaths ?? [])];
  const identities = await Promise.all(paths.map((hostPath) => stat(hostPath).then((info) => `${info.dev}:${info.ino}`, () => 'missing')));
  return identities.join(',');
}
