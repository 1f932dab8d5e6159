// Hangar's configuration: one zod schema, validated once (load-config.ts merges file -> environment
// -> flags, and is the only place that reads process.env); everything else receives a HangarConfig.
// Each section's schema is in its own file (<section>-config.ts).
import path from 'node:path';
import { z } from 'zod';
import { agentConfigSchema } from './agent-config.js';
import { authConfigSchema } from './auth-config.js';
import { egressConfigSchema } from './egress-config.js';
import { gatewayConfigSchema } from './gateway-config.js';
import { pricingConfigSchema } from './pricing-config.js';
import { sandboxConfigSchema } from './sandbox-config.js';
import { serverConfigSchema } from './server-config.js';
import { sessionsConfigSchema } from './sessions-config.js';
import { HangarError } from '../errors/errors.js';

export { DEFAULT_UPSTREAM_URL } from './gateway-config.js';
export { DEFAULT_FALLBACK_PRICE, DEFAULT_PRICES, type ModelPrice } from './pricing-config.js';
export type { ResourceLimits } from './sandbox-config.js';

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('.hangar').describe('Directory for the SQLite database, sandbox roots and sockets (relative to the working directory)'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
    auth: authConfigSchema,
    server: serverConfigSchema,
    store: z
      .object({
        driver: z.enum(['sqlite']).default('sqlite').describe('Metadata store adapter'),
        sqlitePath: z.string().optional().describe('SQLite database file; default <dataDir>/hangar.db'),
      })
      .strict()
      .default({ driver: 'sqlite' }),
    sandbox: sandboxConfigSchema,
    gateway: gatewayConfigSchema,
    egress: egressConfigSchema,
    agent: agentConfigSchema,
    sessions: sessionsConfigSchema,
    pricing: pricingConfigSchema,
  })
  .strict();

export type HangarConfig = z.infer<typeof configSchema>;

/**
 * Validates a configuration object (defaults filled in). `originOf` names where a field's value
 * came from (an environment variable, a flag, a file), for the error message.
 */
export function parseConfig(value: unknown, originOf?: (dottedPath: string) => string | undefined): HangarConfig {
  const result = configSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const dotted = issue.path.join('.');
      const origin = dotted === '' ? undefined : originOf?.(dotted);
      return `${dotted || '(root)'}${origin !== undefined ? ` (set by ${origin})` : ''}: ${issue.message}`;
    });
    throw new HangarError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, { details: problems });
  }
  return result.data;
}

/** Absolute paths derived from the configuration. */
export function resolveDataPaths(config: HangarConfig): { dataDir: string; sqlitePath: string; sandboxRoot: string; runDir: string; blobDir: string } {
  const dataDir = path.resolve(config.dataDir);
  return {
    dataDir,
    blobDir: path.join(dataDir, 'blobs'),
    sqlitePath: path.resolve(config.store.sqlitePath ?? path.join(dataDir, 'hangar.db')),
    sandboxRoot: path.resolve(config.sandbox.rootDir ?? path.join(dataDir, 'sandboxes')),
    runDir: path.join(dataDir, 'run'),
  };
}
