// The `auth` section of the configuration: API keys or none, and the per-tenant request rate.
import { z } from 'zod';

export const authConfigSchema = z
  .object({
    mode: z
      .enum(['keys', 'none'])
      .default('keys')
      .describe(
        'keys: every /v1 request needs an API key (the first admin key is written to <dataDir>/admin-key at first start); ' +
          'none: no authentication, for local use only (refused unless server.host is a loopback address); env HANGAR_AUTH_MODE',
      ),
    rateLimit: z
      .object({
        requestsPerSecond: z.number().positive().max(100_000).default(50).describe('Requests per second a tenant may make, on average'),
        burst: z.number().int().positive().max(1_000_000).default(200).describe('Requests a tenant may make at once above the average'),
      })
      .strict()
      .default({ requestsPerSecond: 50, burst: 200 })
      .describe('Per-tenant request rate limit with API keys (429 RATE_LIMITED with Retry-After beyond it)'),
  })
  .strict()
  .default({ mode: 'keys', rateLimit: { requestsPerSecond: 50, burst: 200 } })
  .describe('Who may use the HTTP API');
