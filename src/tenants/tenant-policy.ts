// A tenant's policy: what its keys may ask for (tools, permission modes, hosts, presets, configured
// secrets, resources, turns, a per-run budget), how much it may hold and spend at once (live
// sandboxes, API requests per second, model calls per minute, USD per UTC day). Every field is
// optional: a field left out sets no limit of its own (the installation's configuration still
// applies). One zod schema; the type is inferred from it.
import { z } from 'zod';
import { HangarError } from '../errors/errors.js';
import { parseHostRule } from '../egress/host-rules.js';
import { EGRESS_PRESET_NAMES, type EgressPresetName } from '../egress/presets.js';
import { PERMISSION_MODES } from '../runner/agent-options.js';

/** Tenant ids: what keys, records and the CLI name a tenant by. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const tenantIdSchema = z
  .string()
  .regex(TENANT_ID_PATTERN, 'a tenant id is 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit')
  .describe('Tenant id, e.g. "acme"');

const hostRuleSchema = z.string().superRefine((rule, context) => {
  try {
    parseHostRule(rule);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const tenantPolicySchema = z
  .object({
    allowedTools: z
      .array(z.string().min(1).max(500))
      .max(256)
      .optional()
      .describe('Tool names and permission rules a request may name in allowedTools (exactly as written); default tools outside it are left out'),
    permissionModes: z.array(z.enum(PERMISSION_MODES)).min(1).max(PERMISSION_MODES.length).optional().describe('Permission modes a request may use'),
    network: z
      .object({
        allowedHosts: z.array(hostRuleSchema).max(1024).optional().describe('Host rules a request may allow: each rule it names must lie within one of these'),
        presets: z
          .array(z.enum(EGRESS_PRESET_NAMES as [EgressPresetName, ...EgressPresetName[]]))
          .max(16)
          .optional()
          .describe('Presets a request may name'),
        secrets: z
          .array(z.string().min(1).max(128))
          .max(64)
          .optional()
          .describe(
            "Configured secrets (egress.secrets) the tenant may use; only the default tenant uses them without being listed. The tenant's own secrets it always may",
          ),
      })
      .strict()
      .optional(),
    maxResources: z
      .object({
        memoryMb: z.number().int().positive().optional(),
        cpus: z.number().positive().optional(),
        diskMb: z.number().int().positive().optional(),
        pids: z.number().int().positive().optional(),
      })
      .strict()
      .optional()
      .describe('Largest sandbox a request may ask for; also the default when the configured default is larger'),
    maxTurns: z.number().int().min(1).max(1000).optional().describe('Largest maxTurns a request may set (and the default when the configured one is larger)'),
    maxBudgetUsd: z.number().positive().max(1_000_000).optional().describe('Largest maxBudgetUsd a task or session may set; the default when it sets none'),
    dailyBudgetUsd: z
      .number()
      .positive()
      .max(100_000_000)
      .optional()
      .describe('Model spend per UTC day across the tenant: calls are refused (402) once it is reached'),
    maxConcurrentSandboxes: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .optional()
      .describe('Live sandboxes at once (running tasks, live sessions, shared sandboxes); beyond it 429'),
    maxOpenSessions: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .describe('Sessions not closed at once, forks included (each keeps its checkpoints); beyond it a new session or fork gets 403'),
    requestsPerSecond: z.number().positive().max(100_000).optional().describe('API request rate (replaces auth.rateLimit.requestsPerSecond for this tenant)'),
    burst: z.number().int().positive().max(1_000_000).optional().describe('API requests at once above the rate (replaces auth.rateLimit.burst)'),
    upstreamRequestsPerMinute: z
      .number()
      .int()
      .positive()
      .max(1_000_000)
      .optional()
      .describe('Model calls per minute across the tenant, at the gateway (beyond it 429 rate_limit_error, which the CLI retries)'),
  })
  .strict();

export type TenantPolicy = z.infer<typeof tenantPolicySchema>;

/** The stored policy as the schema reads it; one that no longer parses refuses everything (fails closed). */
export function readTenantPolicy(tenantId: string, stored: Record<string, unknown>): TenantPolicy {
  const parsed = tenantPolicySchema.safeParse(stored);
  if (!parsed.success) throw new HangarError('CONFIG_INVALID', `the stored policy of tenant ${tenantId} does not parse; set it again: ${parsed.error.message}`);
  return parsed.data;
}
