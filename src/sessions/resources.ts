// Sandbox resources of a task or session: the request's values over the configured defaults,
// checked against the configured maximum.
import type { HangarConfig, ResourceLimits } from '../config/config.js';
import { HangarError } from '../errors/errors.js';

export type RequestedResources = Partial<Omit<ResourceLimits, 'pids'>> | undefined;

export function resolveResources(config: HangarConfig, requested: RequestedResources): ResourceLimits {
  const resources = { ...config.sandbox.defaults, ...requested };
  for (const key of ['memoryMb', 'cpus', 'diskMb'] as const) {
    if (resources[key] > config.sandbox.maximum[key]) {
      throw new HangarError('VALIDATION_FAILED', `resources.${key} ${resources[key]} exceeds the maximum of ${config.sandbox.maximum[key]}`);
    }
  }
  return resources;
}
