// The `gateway` section of the configuration: the model upstream and its key, how the gateway
// retries it, and the limits and allowlists of what a sandbox can make the gateway hold or forward.
import { z } from 'zod';

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

export const gatewayConfigSchema = z
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
  });
