// Picks the SandboxProvider adapter named by the configuration.
import type { Logger } from 'pino';
import type { HangarConfig } from '../config/config.js';
import { createLocalSandboxProvider } from './providers/local/index.js';
import type { SandboxProvider } from './sandbox-provider.js';

export function createSandboxProvider(config: HangarConfig, paths: { sandboxRoot: string }, logger: Logger): SandboxProvider {
  switch (config.sandbox.provider) {
    case 'local':
      return createLocalSandboxProvider({
        rootDir: paths.sandboxRoot,
        uidRangeStart: config.sandbox.uidRangeStart,
        uidRangeSize: config.sandbox.uidRangeSize,
        workspaceBacking: config.sandbox.workspaceBacking,
        favorDynamicCgroups: config.sandbox.favorDynamicCgroups,
        warmPoolSize: config.sandbox.warmPoolSize,
        ...(config.sandbox.hostLimits !== undefined ? { hostLimits: config.sandbox.hostLimits } : {}),
        logger,
      });
  }
}
