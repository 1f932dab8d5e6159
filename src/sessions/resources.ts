// Sandbox resources of a task or session: the request's values over the configured defaults,
// checked against the configured maximum; and the spec of a sandbox an agent runs in.
import path from 'node:path';
import type { HangarConfig, ResourceLimits } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import type { ModelGateway } from '../gateway/model-gateway.js';
import type { SandboxEgress } from '../egress/sandbox-egress.js';
import type { SandboxSpec } from '../sandbox/sandbox-provider.js';

export type RequestedResources = Partial<ResourceLimits> | undefined;

export function resolveResources(config: HangarConfig, requested: RequestedResources): ResourceLimits {
  const resources = { ...config.sandbox.defaults, ...requested };
  for (const key of ['memoryMb', 'cpus', 'diskMb', 'pids'] as const) {
    if (resources[key] > config.sandbox.maximum[key]) {
      throw new HangarError('VALIDATION_FAILED', `resources.${key} ${resources[key]} exceeds the maximum of ${config.sandbox.maximum[key]}`);
    }
  }
  return resources;
}

/**
 * The sandbox an agent runs in: the gateway and the egress proxy bridged to loopback ports inside,
 * the Claude Code binary's directory visible read-only and the egress CA files copied in. Tasks and sessions share this shape, so they share the
 * provider's warm pool.
 */
export function agentSandboxSpec(
  config: HangarConfig,
  dependencies: {
    gateway: Pick<ModelGateway, 'socketPath'>;
    claudeExecutable: string;
    egress?: Pick<SandboxEgress, 'socketPath' | 'readOnlyFiles'> | undefined;
  },
  resources: ResourceLimits,
  id?: string,
): SandboxSpec {
  const { egress } = dependencies;
  return {
    ...(id !== undefined ? { id } : {}),
    resources,
    bridges: [
      { name: 'model-gateway', hostSocketPath: dependencies.gateway.socketPath, port: config.gateway.sandboxPort },
      ...(egress !== undefined ? [{ name: 'egress-proxy', hostSocketPath: egress.socketPath, port: config.egress.sandboxPort }] : []),
    ],
    readOnlyPaths: [path.dirname(dependencies.claudeExecutable)],
    ...(egress !== undefined ? { readOnlyFiles: egress.readOnlyFiles.map((file) => ({ ...file })) } : {}),
  };
}
