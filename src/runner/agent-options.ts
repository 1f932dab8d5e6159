// The options an agent runs with, shared by tasks and sessions: one zod schema (from which the
// request schemas of both derive) and the TypeScript type the task service and the session manager
// take. Each rule is written once here: tool names and permission rules, permission modes, limits,
// sandbox resources (bounded by the configured maximum) and initial workspace files.
import { z } from 'zod';
import type { HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import { parseHostRule } from '../egress/host-rules.js';
import type { RecordedSecretEntry } from '../egress/declared-secrets.js';
import { EGRESS_PRESET_NAMES, type EgressPresetName } from '../egress/presets.js';
import { secretInjectionProblem, secretNameProblem, secretValueProblem } from '../egress/secrets.js';
import { permissionRuleProblem } from './permission-rules.js';
import { describeWorkspaceFileProblem, workspaceFileProblems, workspaceFilesDiskProblem } from './workspace-files.js';

export const PERMISSION_MODES = ['dontAsk', 'acceptEdits', 'bypassPermissions', 'plan'] as const;
export type AgentPermissionMode = (typeof PERMISSION_MODES)[number];

/** What the option schemas need of the configuration. */
export type AgentOptionsConfig = Pick<HangarConfig, 'sandbox' | 'egress'>;

/** A host rule as network.allowedHosts takes it (egress/host-rules.ts). */
const hostRuleSchema = z.string().superRefine((rule, context) => {
  try {
    parseHostRule(rule);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** Adds the problem (a string) as an issue, when there is one. */
const issueOf =
  <T>(problemOf: (value: T) => string | undefined) =>
  (value: T, context: z.RefinementCtx): void => {
    const problem = problemOf(value);
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
  };

/** Most bytes of a declared secret's value. */
export const MAX_SECRET_VALUE_BYTES = 16 * 1024;

// The parts of a secret, as a request declares one in network.secrets and as a tenant's is set
// (api/tenant-secret-routes.ts).

/** A secret's name: the environment variable the sandbox sees its placeholder in. */
export const secretNameSchema = z.string().max(128).superRefine(issueOf(secretNameProblem));

const SECRET_VALUE_TEXT = `The value, one line, at most ${MAX_SECRET_VALUE_BYTES} bytes: stored sealed, never shown, put into requests by the proxy only`;

/** A secret's value (never echoed in a problem). */
export const secretValueSchema = z
  .string()
  .superRefine(
    issueOf((value) => (Buffer.byteLength(value) > MAX_SECRET_VALUE_BYTES ? `the value is over ${MAX_SECRET_VALUE_BYTES} bytes` : secretValueProblem(value))),
  )
  .describe(SECRET_VALUE_TEXT);

/** The host rules a secret's value may be sent to. */
export const secretHostsSchema = z
  .array(hostRuleSchema)
  .superRefine(issueOf((hosts) => (hosts.length === 0 ? 'name at least one host' : hosts.length > 32 ? 'at most 32 hosts' : undefined)))
  .describe('Host rules (as allowedHosts) the value may be sent to; the proxy intercepts TLS for these only');

/** How the proxy puts a secret's value into a request. */
export const secretInjectSchema = z
  .union([
    z.literal('placeholder'),
    z
      .object({
        header: z.string().max(128),
        template: z
          .string()
          .max(1024)
          .refine((template) => template.includes('{value}'), 'the template must contain {value}')
          .optional(),
      })
      .strict(),
  ])
  .superRefine(issueOf(secretInjectionProblem))
  .describe('placeholder (default): the value replaces the placeholder in headers; { header, template }: the proxy sets that header ({value} in the template)');

/**
 * A secret the request declares with its value (never a file: only the configuration names files,
 * a request never makes Hangar read a host path). The value is sealed into the store; records and
 * answers show the declaration without it.
 */
const secretDeclarationSchema = z
  .object({
    name: secretNameSchema.describe('The environment variable the sandbox sees the placeholder in'),
    // Optional here only so that a declaration without it (or with a file instead) is answered
    // with the message below rather than zod's "Invalid input" for the union.
    value: secretValueSchema.optional().describe(`Required. ${SECRET_VALUE_TEXT}`),
    hosts: secretHostsSchema,
    inject: secretInjectSchema.optional(),
  })
  .strict()
  .superRefine((declaration, context) => {
    if (declaration.value === undefined)
      context.addIssue({
        code: 'custom',
        path: ['value'],
        message: 'a declared secret needs its value (a request cannot name a file: only the configuration does, egress.secrets)',
      });
  });

/** What a task or session may reach through the egress proxy: nothing unless named here. */
export function networkSchema(config: Pick<HangarConfig, 'egress'>) {
  const configured = Object.keys(config.egress.secrets);
  return z
    .object({
      allowedHosts: z
        .array(hostRuleSchema)
        .max(256)
        .optional()
        .describe('Hosts the agent may reach: "api.github.com", "*.example.com", "example.org:8443" (no port: 443 and 80)'),
      presets: z
        .array(z.enum(EGRESS_PRESET_NAMES as [EgressPresetName, ...EgressPresetName[]]))
        .max(16)
        .optional()
        .describe(`Named host sets: ${EGRESS_PRESET_NAMES.join(', ')}`),
      mode: z.enum(['enforce', 'learn']).optional().describe('enforce (default): allow what is listed; learn: allow nothing, record every host tried'),
      secrets: z
        .array(
          z.union([
            // Whether a name is the tenant's or configured is checked once the tenant is known (unknownSecretsError).
            secretNameSchema,
            secretDeclarationSchema,
          ]),
        )
        .max(64)
        .superRefine((entries, context) => {
          const seen = new Set<string>();
          entries.forEach((entry, index) => {
            const name = typeof entry === 'string' ? entry : entry.name;
            if (typeof entry !== 'string' && configured.includes(name)) {
              context.addIssue({
                code: 'custom',
                path: [index, 'name'],
                message: `secret ${name} is configured by the installation (egress.secrets): name it without a value to use it, or declare another name`,
              });
            } else if (seen.has(name)) {
              context.addIssue({ code: 'custom', path: [index], message: `secret ${name} is named twice` });
            }
            seen.add(name);
          });
        })
        .optional()
        .describe(
          'Secrets the agent gets as placeholders, put in by the proxy for their hosts only: the name of a secret of the tenant ' +
            "(PUT /v1/tenants/{id}/secrets/{name}) or of the installation (egress.secrets; the tenant's wins), " +
            'or { name, value, hosts, inject? } declared here (the value is stored sealed and never shown)',
        ),
    })
    .strict();
}

/**
 * The 400 for names in network.secrets that name no secret, or undefined when each names one of the
 * tenant's secrets or a configured one (egress.secrets). The schema cannot know a tenant's secrets:
 * the API checks this once it knows the caller, before anything is created (api/tenant-scope.ts).
 */
export function unknownSecretsError(
  network: { secrets?: readonly unknown[] | undefined } | undefined,
  usable: { configured: readonly string[]; tenantId: string; tenantSecrets: readonly string[] },
): HangarError | undefined {
  const known = new Set([...usable.configured, ...usable.tenantSecrets]);
  const details = (network?.secrets ?? []).flatMap((entry, index) => {
    if (typeof entry !== 'string' || known.has(entry)) return [];
    const message =
      `unknown secret ${entry}: name one of tenant ${usable.tenantId}'s secrets (${usable.tenantSecrets.join(', ') || 'none'}; ` +
      `set with PUT /v1/tenants/${usable.tenantId}/secrets/${entry}) or a configured one (${usable.configured.join(', ') || 'none'}; egress.secrets)`;
    return [{ in: 'body', path: `network.secrets.${index}`, message }];
  });
  if (details.length === 0) return undefined;
  return new HangarError('VALIDATION_FAILED', `invalid request: ${details.map((detail) => `body.${detail.path}: ${detail.message}`).join('; ')}`, {
    details,
  });
}

/** A task's or session's network settings, as a request gives them (declared secrets with their values). */
export type NetworkOptions = z.infer<ReturnType<typeof networkSchema>>;

/** A task's or session's network settings as its record keeps them: declared secrets without values. */
export type RecordedNetworkOptions = Omit<NetworkOptions, 'secrets'> & { secrets?: RecordedSecretEntry[] };

/** Sandbox limits a request may ask for, bounded by the configured maximum. */
export function resourcesSchema(config: AgentOptionsConfig) {
  const maximum = config.sandbox.maximum;
  return z
    .object({
      memoryMb: z.number().int().min(64).max(maximum.memoryMb).optional(),
      cpus: z.number().min(0.05).max(maximum.cpus).optional(),
      diskMb: z.number().int().min(8).max(maximum.diskMb).optional(),
      pids: z.number().int().min(32).max(maximum.pids).optional().describe('Most processes (and threads) in the sandbox'),
    })
    .strict();
}

/** One tool name or Claude Code permission rule: `Bash`, `Bash(npm test:*)`, `Read(./src/**)`. */
const permissionRuleSchema = z.string().superRefine((rule, context) => {
  const problem = permissionRuleProblem(rule);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

/** Tools the agent may use, each pre-approved: names or permission rules (a rule approves only what it matches). */
export const allowedToolsSchema = z
  .array(permissionRuleSchema)
  .max(64)
  .describe(
    'Tool names or Claude Code permission rules, each pre-approved: "Bash", "Bash(npm test:*)", "Read(./src/**)". The agent has the tools they name and no others',
  );

/** Tools the agent may never use: names or permission rules. */
export const disallowedToolsSchema = z
  .array(permissionRuleSchema)
  .max(64)
  .describe('Tool names or Claude Code permission rules the agent may never use: "WebFetch", "Bash(rm:*)"');

/**
 * Initial workspace files: relative path -> UTF-8 content. Paths are checked here (workspace-files.ts);
 * whether they fit the disk, by filesFitDisk on the whole body (and by the service, for shared sandboxes).
 */
export const workspaceFilesSchema = z
  .record(z.string().min(1).max(1024), z.string())
  .refine((files) => Object.keys(files).length <= 10_000, 'at most 10000 files')
  .superRefine((files, context) => {
    for (const problem of workspaceFileProblems(files)) context.addIssue({ code: 'custom', message: describeWorkspaceFileProblem(problem) });
  });

/**
 * Object-level check of a task or session body: its files fit the disk its sandbox will have
 * (resources.diskMb, or the configured default). A session in a shared sandbox is checked by the service.
 */
export function filesFitDisk(config: Pick<HangarConfig, 'sandbox'>) {
  return (body: { files?: Record<string, string> | undefined; resources?: { diskMb?: number | undefined } | undefined }, context: z.RefinementCtx): void => {
    if (body.files === undefined) return;
    const problem = workspaceFilesDiskProblem(body.files, body.resources?.diskMb ?? config.sandbox.defaults.diskMb);
    if (problem !== undefined) context.addIssue({ code: 'custom', path: ['files'], message: problem });
  };
}

/**
 * The agent options of a task or a session, each optional (defaults come from the configuration).
 * A plain object schema without refinements, so request schemas can `.extend()` it; add
 * `.superRefine(filesFitDisk(config))` on the whole body.
 */
export function agentOptionsSchema(config: AgentOptionsConfig) {
  return z
    .object({
      allowedTools: allowedToolsSchema.optional(),
      disallowedTools: disallowedToolsSchema.optional(),
      maxTurns: z.number().int().min(1).max(1000).optional().describe('Most agent turns per run (a task, or one message of a session)'),
      maxBudgetUsd: z
        .number()
        .positive()
        .max(1_000_000)
        .optional()
        .describe('Most the agent may spend, in USD: a run that reaches it ends BUDGET_EXCEEDED, and a session takes no more turns'),
      permissionMode: z.enum(PERMISSION_MODES).optional().describe('Claude Code permission mode; default dontAsk (only allowedTools)'),
      appendSystemPrompt: z.string().max(100_000).optional().describe('Text appended to the Claude Code system prompt'),
      model: z.string().min(1).max(200).optional().describe('Model id the CLI asks for'),
      resources: resourcesSchema(config).optional().describe('Sandbox limits; defaults from the configuration'),
      files: workspaceFilesSchema.optional().describe('Initial workspace files: relative path -> UTF-8 content'),
      network: networkSchema(config).optional().describe('What the agent may reach besides the model; default nothing'),
    })
    .strict();
}

/** The agent options as a task or session input takes them. */
export type AgentOptions = z.infer<ReturnType<typeof agentOptionsSchema>>;
