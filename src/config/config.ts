// Hangar's configuration: one zod schema, validated once (load-config.ts merges file -> environment
// -> flags, and is the only place that reads process.env); everything else receives a HangarConfig.
import path from 'node:path';
import { z } from 'zod';
import { authConfigSchema } from './auth-config.js';
import { egressConfigSchema } from './egress-config.js';
import { HangarError } from '../errors/errors.js';
import { LOCAL_SANDBOX_DEFAULTS } from '../sandbox/providers/local/settings.js';

const modelPriceSchema = z
  .object({
    inputPerMTok: z.number().nonnegative().describe('USD per million uncached input tokens'),
    outputPerMTok: z.number().nonnegative().describe('USD per million output tokens'),
    cacheWritePerMTok: z.number().nonnegative().describe('USD per million tokens written to the prompt cache'),
    cacheReadPerMTok: z.number().nonnegative().describe('USD per million tokens read from the prompt cache'),
  })
  .strict();

export type ModelPrice = z.infer<typeof modelPriceSchema>;

const resourcesSchema = z
  .object({
    memoryMb: z.number().int().positive().describe('Memory limit in MiB'),
    cpus: z.number().positive().describe('CPU cores (fractions allowed)'),
    diskMb: z.number().int().positive().describe('Workspace + HOME + /tmp size limit in MiB'),
    pids: z.number().int().positive().describe('Maximum processes and threads alive at once'),
  })
  .strict();

/** Published list prices (USD per million tokens) for the Claude models in common use. */
const FILE_COLLECTION_DEFAULTS = {
  maxEntries: 50_000,
  contentLimitBytes: 1024 * 1024,
  readBudgetBytes: 64 * 1024 * 1024,
  returnedContentBytes: 8 * 1024 * 1024,
};

const fileCollectionSchema = z
  .object({
    maxEntries: z
      .number()
      .int()
      .positive()
      .max(1_000_000)
      .default(FILE_COLLECTION_DEFAULTS.maxEntries)
      .describe("Most workspace directory entries (files, directories, links...) examined per scan; beyond it the task's file list is truncated"),
    contentLimitBytes: z
      .number()
      .int()
      .min(0)
      .default(FILE_COLLECTION_DEFAULTS.contentLimitBytes)
      .describe('Largest file compared by content and returned with it; larger files are compared by size, mtime, ctime and inode'),
    readBudgetBytes: z
      .number()
      .int()
      .min(0)
      .default(FILE_COLLECTION_DEFAULTS.readBudgetBytes)
      .describe("Bytes Hangar reads from a task's workspace to hash and return files, before and after the run together"),
    returnedContentBytes: z
      .number()
      .int()
      .min(0)
      .default(FILE_COLLECTION_DEFAULTS.returnedContentBytes)
      .describe("Content returned across a task's changed files; files beyond it come back without content"),
  })
  .strict();

/** The price of a model missing from the table. */
export const DEFAULT_FALLBACK_PRICE: ModelPrice = { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 };

export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'claude-opus-4': { inputPerMTok: 15, outputPerMTok: 75, cacheWritePerMTok: 18.75, cacheReadPerMTok: 1.5 },
  'claude-opus-4-5': { inputPerMTok: 5, outputPerMTok: 25, cacheWritePerMTok: 6.25, cacheReadPerMTok: 0.5 },
  'claude-sonnet-4': { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 },
  'claude-sonnet-4-5': { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 },
  'claude-haiku-4-5': { inputPerMTok: 1, outputPerMTok: 5, cacheWritePerMTok: 1.25, cacheReadPerMTok: 0.1 },
  'claude-3-5-haiku': { inputPerMTok: 0.8, outputPerMTok: 4, cacheWritePerMTok: 1, cacheReadPerMTok: 0.08 },
};

/** Defaults of the gateway's limits and allowlists (what a sandbox can make the gateway hold or forward). */
const GATEWAY_LIMIT_DEFAULTS = {
  maxRequestBytes: 16 * 1024 * 1024,
  maxConcurrentRequestsPerToken: 8,
  maxInFlightBytesPerToken: 32 * 1024 * 1024,
  maxInFlightBytes: 256 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  maxConnections: 1024,
  allowedBetas: [] as string[],
  allowedBodyFields: [] as string[],
  allowServerTools: false,
};

const gatewayLimitFields = {
  maxRequestBytes: z
    .number()
    .int()
    .positive()
    .default(GATEWAY_LIMIT_DEFAULTS.maxRequestBytes)
    .describe('Largest model request body the gateway accepts from a sandbox; a larger Content-Length is refused (413) before reading'),
  maxConcurrentRequestsPerToken: z
    .number()
    .int()
    .positive()
    .default(GATEWAY_LIMIT_DEFAULTS.maxConcurrentRequestsPerToken)
    .describe('Model requests one session token may have open at once; more get 429'),
  maxInFlightBytesPerToken: z
    .number()
    .int()
    .positive()
    .default(GATEWAY_LIMIT_DEFAULTS.maxInFlightBytesPerToken)
    .describe('Request-body bytes one session token may have buffered in the gateway at once; more get 429'),
  maxInFlightBytes: z
    .number()
    .int()
    .positive()
    .default(GATEWAY_LIMIT_DEFAULTS.maxInFlightBytes)
    .describe('Request-body bytes all sandboxes together may have buffered in the gateway at once; more get 429'),
  headersTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(GATEWAY_LIMIT_DEFAULTS.headersTimeoutMs)
    .describe("Milliseconds a sandbox has to send a request's headers to the gateway"),
  bodyTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(GATEWAY_LIMIT_DEFAULTS.bodyTimeoutMs)
    .describe('Milliseconds a sandbox has to send a whole request body to the gateway; a stalled body is cut (408)'),
  maxConnections: z
    .number()
    .int()
    .positive()
    .default(GATEWAY_LIMIT_DEFAULTS.maxConnections)
    .describe('Connections the gateway holds open at once, all sandboxes together'),
  allowedBetas: z
    .array(z.string().min(1))
    .default(GATEWAY_LIMIT_DEFAULTS.allowedBetas)
    .describe('anthropic-beta values forwarded on top of the built-in list of the betas the Claude Code CLI sends; others are refused (400)'),
  allowedBodyFields: z
    .array(z.string().min(1))
    .default(GATEWAY_LIMIT_DEFAULTS.allowedBodyFields)
    .describe('Top-level request body fields forwarded on top of the built-in Messages API list; others are refused (400)'),
  allowServerTools: z
    .boolean()
    .default(GATEWAY_LIMIT_DEFAULTS.allowServerTools)
    .describe(
      'Forward server tools (web search/fetch, code execution, MCP toolsets), mcp_servers and URL/file content sources, which the model provider runs or fetches under the real key; refused (400) when off',
    ),
};

/** The model upstream when none is configured: Anthropic's API, which needs a key. */
export const DEFAULT_UPSTREAM_URL = 'https://api.anthropic.com';

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('.hangar').describe('Directory for the SQLite database, sandbox roots and sockets (relative to the working directory)'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
    auth: authConfigSchema,
    server: z
      .object({
        host: z.string().default('127.0.0.1').describe('Address the HTTP API listens on'),
        port: z.number().int().min(0).max(65535).default(8080).describe('Port of the HTTP API (0 = any free port)'),
        bodyLimitBytes: z
          .number()
          .int()
          .positive()
          .default(10 * 1024 * 1024)
          .describe('Largest accepted request body in bytes (initial files included)'),
        shutdownDrainMs: z
          .number()
          .int()
          .min(0)
          .max(10 * 60_000)
          .default(15_000)
          .describe(
            'At shutdown (SIGTERM, SIGINT, close()), how long Hangar waits for the running tasks it interrupts to stop and their sandboxes to go; ' +
              'tasks still stopping then are recorded interrupted and their sandboxes destroyed with the provider',
          ),
        allowedHosts: z
          .array(z.string().min(1))
          .optional()
          .describe(
            'Host header values the API answers to (name, or name:port for an exact port); others get 421. Unset: a loopback-bound ' +
              'server answers to localhost, 127.0.0.1 and [::1] at its port (against DNS rebinding), another bind address to any Host',
          ),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, bodyLimitBytes: 10 * 1024 * 1024, shutdownDrainMs: 15_000 }),
    store: z
      .object({
        driver: z.enum(['sqlite']).default('sqlite').describe('Metadata store adapter'),
        sqlitePath: z.string().optional().describe('SQLite database file; default <dataDir>/hangar.db'),
      })
      .strict()
      .default({ driver: 'sqlite' }),
    sandbox: z
      .object({
        provider: z.enum(['local']).default('local').describe('Sandbox provider adapter'),
        rootDir: z.string().optional().describe('Host directory of per-sandbox workspaces; default <dataDir>/sandboxes'),
        uidRangeStart: z.number().int().min(1000).default(LOCAL_SANDBOX_DEFAULTS.uidRangeStart).describe('First host uid handed to sandboxes'),
        uidRangeSize: z.number().int().positive().default(LOCAL_SANDBOX_DEFAULTS.uidRangeSize).describe('Number of host uids (= concurrent sandboxes)'),
        workspaceBacking: z
          .enum(['ext4', 'tmpfs'])
          .default(LOCAL_SANDBOX_DEFAULTS.workspaceBacking)
          .describe(
            "What holds each local sandbox's workspace and HOME, /tmp: ext4 = sparse image files on the rootDir disk, loop-mounted " +
              '(full disk -> ENOSPC; needs e2fsprogs and loop devices); tmpfs = memory, counted toward memoryMb (faster to create, ' +
              'but a workspace never holds more than the memory limit and a large write is OOM-killed)',
          ),
        favorDynamicCgroups: z
          .boolean()
          .default(LOCAL_SANDBOX_DEFAULTS.favorDynamicCgroups)
          .describe(
            "Mount a small cgroup hierarchy with the kernel's favordynmods option, so a process joining a sandbox's cgroups does not " +
              'wait ~20 ms for an RCU grace period (Linux 6.2+). Host-wide until reboot: forks and exits take a slightly slower path',
          ),
        warmPoolSize: z
          .number()
          .int()
          .min(0)
          .max(64)
          .default(LOCAL_SANDBOX_DEFAULTS.warmPoolSize)
          .describe(
            'Sandboxes kept ready for each of the two most recently used shapes (disk size, bridges), with their first launch ' +
              'already started, so a task or session starts its CLI without waiting for sandbox setup; 0 creates each sandbox on demand',
          ),
        hostLimits: z
          .object({
            pids: z
              .number()
              .int()
              .positive()
              .optional()
              .describe(
                'Most processes and threads of all sandboxes together; each live sandbox reserves its own pids limit out of it (a sandbox ' +
                  'that would not fit is refused with 429). Default 75% of kernel.pid_max (or threads-max when lower)',
              ),
            memoryMb: z
              .number()
              .int()
              .positive()
              .optional()
              .describe('Most memory of all sandboxes together in MiB, TCP buffers included; default total RAM minus max(1 GiB, 10%)'),
            cpus: z
              .number()
              .positive()
              .optional()
              .describe('Most CPU time of all sandboxes together, in cores; default every core (the parent group also gets half the default CPU weight)'),
          })
          .strict()
          .default({})
          .describe('Host-wide ceilings on the parent cgroup that holds every local sandbox'),
        maxLive: z
          .number()
          .int()
          .positive()
          .optional()
          .describe(
            'Most sandboxes live at once for tasks, sessions and shared sandboxes (warm pool not counted); beyond it task and ' +
              'session requests that need a sandbox answer 429 with Retry-After. Default: derived from the host (memory, pid_max, uid range)',
          ),
        defaults: resourcesSchema.default({ memoryMb: 1024, cpus: 1, diskMb: 5120, pids: 512 }).describe('Resources of a sandbox when the request names none'),
        maximum: resourcesSchema.default({ memoryMb: 16384, cpus: 8, diskMb: 102400, pids: 4096 }).describe('Largest resources a request may ask for'),
      })
      .strict()
      .default({
        provider: 'local',
        uidRangeStart: LOCAL_SANDBOX_DEFAULTS.uidRangeStart,
        uidRangeSize: LOCAL_SANDBOX_DEFAULTS.uidRangeSize,
        workspaceBacking: LOCAL_SANDBOX_DEFAULTS.workspaceBacking,
        favorDynamicCgroups: LOCAL_SANDBOX_DEFAULTS.favorDynamicCgroups,
        warmPoolSize: LOCAL_SANDBOX_DEFAULTS.warmPoolSize,
        hostLimits: {},
        defaults: { memoryMb: 1024, cpus: 1, diskMb: 5120, pids: 512 },
        maximum: { memoryMb: 16384, cpus: 8, diskMb: 102400, pids: 4096 },
      }),
    gateway: z
      .object({
        upstreamUrl: z
          .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, scheme included (e.g. http://localhost:8787)' })
          .default(DEFAULT_UPSTREAM_URL)
          .describe('Anthropic API (or compatible) the model gateway forwards to; env ANTHROPIC_BASE_URL'),
        upstreamApiKey: z.string().optional().describe('The real API key, injected by the gateway and never given to sandboxes; env ANTHROPIC_API_KEY'),
        upstreamApiKeyFile: z
          .string()
          .min(1)
          .optional()
          .describe(
            'A file holding the real API key instead (e.g. a mounted secret), re-read when it changes and on SIGHUP so a rotated key ' +
              'takes effect without a restart; env ANTHROPIC_API_KEY_FILE',
          ),
        retry: z
          .object({
            maxRetries: z.number().int().min(0).max(10).default(2).describe('Retries of an upstream 408/409/429/5xx/529 answer or failed connection'),
            baseDelayMs: z.number().int().min(1).max(60_000).default(500).describe('First backoff, doubled each retry (with jitter)'),
            maxWaitMs: z
              .number()
              .int()
              .min(1)
              .max(300_000)
              .default(8000)
              .describe('Longest wait before a retry; an upstream retry-after longer than this is passed back to the agent instead'),
          })
          .strict()
          .default({ maxRetries: 2, baseDelayMs: 500, maxWaitMs: 8000 })
          .describe('How the gateway retries the upstream before a byte of the answer has gone back to the agent'),
        sandboxPort: z.number().int().min(1024).max(65535).default(4100).describe('Loopback port inside each sandbox that reaches the gateway'),
        requestTimeoutMs: z.number().int().positive().default(600_000).describe('Upstream request timeout'),
        ...gatewayLimitFields,
      })
      .strict()
      .default({
        upstreamUrl: DEFAULT_UPSTREAM_URL,
        retry: { maxRetries: 2, baseDelayMs: 500, maxWaitMs: 8000 },
        sandboxPort: 4100,
        requestTimeoutMs: 600_000,
        ...GATEWAY_LIMIT_DEFAULTS,
      }),
    egress: egressConfigSchema,
    agent: z
      .object({
        model: z.string().optional().describe("Model the CLI uses; default: the CLI's own default"),
        defaultMaxTurns: z.number().int().positive().max(1000).default(20).describe('maxTurns when a request names none'),
        defaultAllowedTools: z
          .array(z.string())
          .default(['Bash', 'Read', 'Write', 'Edit', 'Glob', 'Grep'])
          .describe('Tools available to the agent when a request names none'),
        maxPromptChars: z.number().int().positive().default(200_000).describe('Longest accepted prompt'),
        taskTimeoutMs: z
          .number()
          .int()
          .positive()
          .default(30 * 60_000)
          .describe('A task running longer is interrupted'),
        maxRetries: z.number().int().min(0).max(20).default(10).describe('Retries of the CLI for a failing model call (429/529/5xx)'),
        claudeExecutable: z.string().optional().describe('Path of the Claude Code CLI binary; default: the one shipped with the Agent SDK'),
        fileCollection: fileCollectionSchema
          .default(FILE_COLLECTION_DEFAULTS)
          .describe('What reporting the files a task changed may cost (inside the task timeout)'),
      })
      .strict()
      .default({
        fileCollection: FILE_COLLECTION_DEFAULTS,
        defaultMaxTurns: 20,
        defaultAllowedTools: ['Bash', 'Read', 'Write', 'Edit', 'Glob', 'Grep'],
        maxPromptChars: 200_000,
        taskTimeoutMs: 30 * 60_000,
        maxRetries: 10,
      }),
    sessions: z
      .object({
        defaultIdleTimeoutSec: z
          .number()
          .int()
          .min(1)
          .max(7 * 86_400)
          .default(300)
          .describe('Seconds without a turn before a long-running session is checkpointed and hibernated'),
        checkpointRetention: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(5)
          .describe('Checkpoints kept per session (the newest; the one the session resumes from is always kept); older ones and their blobs are deleted'),
        maxSnapshotBytes: z
          .number()
          .int()
          .positive()
          .optional()
          .describe('Largest compressed workspace snapshot stored for a checkpoint; a larger one fails the checkpoint. Default: 2x the sandbox disk limit'),
        snapshotTimeoutMs: z
          .number()
          .int()
          .positive()
          .default(300_000)
          .describe('Time limit of each of making, verifying and restoring a snapshot of the workspace and HOME; tar is killed beyond it'),
        checkpointHomeExcludes: z
          .array(
            z
              .string()
              .min(1)
              .max(512)
              .refine(
                (entry) => !entry.startsWith('/') && !entry.split('/').some((part) => part === '.' || part === '..'),
                'a relative path under HOME without . or .. components',
              ),
          )
          .max(64)
          .default(['.cache', '.npm/_cacache'])
          .describe(
            'Paths under HOME (literal, relative to /home/agent) left out of checkpoints, with everything below them; caches by default. ' +
              "The CLI's own transcripts and per-process state under ~/.claude are always left out",
          ),
        blobSweepIntervalSec: z
          .number()
          .int()
          .min(1)
          .default(3600)
          .describe('Seconds between sweeps that delete checkpoint blobs with no checkpoint record (also run at start)'),
      })
      .strict()
      .default({
        defaultIdleTimeoutSec: 300,
        checkpointRetention: 5,
        snapshotTimeoutMs: 300_000,
        checkpointHomeExcludes: ['.cache', '.npm/_cacache'],
        blobSweepIntervalSec: 3600,
      }),
    pricing: z
      .object({
        models: z
          .record(z.string(), modelPriceSchema)
          .default(DEFAULT_PRICES)
          .describe('Prices per model id; a model matches the longest entry that prefixes its id'),
        fallback: modelPriceSchema.default(DEFAULT_FALLBACK_PRICE).describe('Price used for models missing from the table'),
      })
      .strict()
      .default({
        models: DEFAULT_PRICES,
        fallback: DEFAULT_FALLBACK_PRICE,
      }),
  })
  .strict();

export type HangarConfig = z.infer<typeof configSchema>;
export type ResourceLimits = z.infer<typeof resourcesSchema>;

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
