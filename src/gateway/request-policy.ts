// What the model gateway lets through to the upstream: the query string, the anthropic-beta values
// and the request body's fields, tools and content sources. Everything not listed here is refused,
// so a sandbox cannot make the model provider fetch URLs, call MCP servers or run server tools on
// its behalf under Hangar's key. Pure functions; the gateway turns a refusal into an HTTP answer.

/**
 * anthropic-beta values the Claude Code CLI sends. Recorded from the CLI shipped with the Agent SDK
 * (claude-agent-sdk 0.3.331) against the scripted model server, for every current model id, the
 * 1M-context variants, thinking and structured output; plus the CLI's own betas for features a
 * session may turn on (structured outputs, fast mode, cache options, token counting). Betas that
 * make the provider reach out (MCP servers, web search/fetch, code execution, files, skills) are not here.
 */
export const DEFAULT_ALLOWED_BETAS: ReadonlySet<string> = new Set([
  'claude-code-20250219',
  'interleaved-thinking-2025-05-14',
  'context-management-2025-06-27',
  'context-1m-2025-08-07',
  'thinking-token-count-2026-05-13',
  'thinking-display-updates-2026-08-18',
  'advanced-tool-use-2025-11-20',
  'effort-2025-11-24',
  'per-turn-control-2026-07-01',
  'mid-conversation-tool-changes-2026-07-01',
  'structured-outputs-2025-12-15',
  'fine-grained-tool-streaming-2025-05-14',
  'token-efficient-tools-2025-02-19',
  'token-counting-2024-11-01',
  'prompt-caching-scope-2026-01-05',
  'extended-cache-ttl-2025-04-11',
  'redact-thinking-2026-02-12',
  'fast-mode-2026-02-01',
]);

/** Top-level Messages API body fields the gateway forwards (messages and count_tokens). */
export const DEFAULT_ALLOWED_BODY_FIELDS: ReadonlySet<string> = new Set([
  'model',
  'messages',
  'system',
  'max_tokens',
  'metadata',
  'stop_sequences',
  'stream',
  'temperature',
  'top_k',
  'top_p',
  'tools',
  'tool_choice',
  'thinking',
  'context_management',
  'output_config',
  'output_format',
  'service_tier',
]);

/** Body fields that only make sense with provider-side tools; forwarded only when server tools are allowed. */
const SERVER_TOOL_BODY_FIELDS: ReadonlySet<string> = new Set(['mcp_servers', 'container']);

/**
 * Tool types the client (the CLI in the sandbox) executes itself; a tool without a type is a custom
 * tool. Every other typed tool (web_search_*, web_fetch_*, code_execution_*, mcp_toolset, ...) runs
 * at the provider and is refused unless server tools are allowed.
 */
const CLIENT_TOOL_TYPE = /^(custom|bash_\d{8}|text_editor_\d{8}|computer_\d{8}|memory_\d{8}|tool_search_tool_(regex|bm25)(_\d{8})?)$/;

export interface RequestPolicy {
  /** Extra anthropic-beta values allowed on top of DEFAULT_ALLOWED_BETAS. */
  allowedBetas: ReadonlySet<string>;
  /** Extra top-level body fields allowed on top of DEFAULT_ALLOWED_BODY_FIELDS. */
  allowedBodyFields: ReadonlySet<string>;
  /** Forward server tools, mcp_servers, container and URL/file content sources. */
  allowServerTools: boolean;
}

export type PolicyRefusalReason = 'query' | 'beta' | 'invalid_json' | 'body_shape' | 'body_field' | 'server_tool' | 'provider_fetch';

export interface PolicyRefusal {
  reason: PolicyRefusalReason;
  /** Safe to send back to the sandbox and to log: names what was refused, never echoes values. */
  message: string;
}

export function createRequestPolicy(
  options: { allowedBetas?: readonly string[]; allowedBodyFields?: readonly string[]; allowServerTools?: boolean } = {},
): RequestPolicy {
  return {
    allowedBetas: new Set(options.allowedBetas ?? []),
    allowedBodyFields: new Set(options.allowedBodyFields ?? []),
    allowServerTools: options.allowServerTools ?? false,
  };
}

/** Shortens a value the sandbox chose before it goes into a message or a log line. */
function quoted(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > 64 ? `${printable.slice(0, 64)}...` : printable);
}

/**
 * The query string forwarded upstream: only `beta=true` (what the CLI sends), or nothing.
 * Returns a refusal for any other parameter.
 */
export function checkQuery(search: string): { search: string } | PolicyRefusal {
  if (search === '' || search === '?') return { search: '' };
  const params = new URLSearchParams(search);
  const names = [...params.keys()];
  if (names.length === 1 && names[0] === 'beta' && params.getAll('beta').length === 1 && params.get('beta') === 'true') return { search: '?beta=true' };
  const other = names.find((name) => name !== 'beta') ?? 'beta';
  return { reason: 'query', message: `query parameter ${quoted(other)} is not forwarded by the Hangar gateway (only beta=true)` };
}

/** Checks every value of the anthropic-beta header(s); returns the header to forward (undefined when none). */
export function checkBetas(header: string | string[] | undefined, policy: RequestPolicy): { header: string | undefined } | PolicyRefusal {
  if (header === undefined) return { header: undefined };
  const values = (Array.isArray(header) ? header : [header])
    .flatMap((part) => part.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
  for (const value of values) {
    if (!DEFAULT_ALLOWED_BETAS.has(value) && !policy.allowedBetas.has(value)) {
      return { reason: 'beta', message: `anthropic-beta ${quoted(value)} is not allowed by the Hangar gateway (add it to gateway.allowedBetas)` };
    }
  }
  return { header: values.length === 0 ? undefined : [...new Set(values)].join(',') };
}

export interface CheckedBody {
  model: string | undefined;
  stream: boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A content block the provider would fetch or resolve: an image or document whose source is a URL or
 * a Files API file, or a container upload. Walks message content and tool_result content; tool inputs
 * and text are data, never fetched, and are not looked at.
 */
function findProviderFetch(messages: unknown): string | undefined {
  const stack: unknown[] = [];
  const pushBlocks = (content: unknown): void => {
    if (Array.isArray(content)) for (const block of content) stack.push(block);
  };
  if (Array.isArray(messages)) for (const message of messages) if (isObject(message)) pushBlocks(message.content);
  while (stack.length > 0) {
    const block = stack.pop();
    if (!isObject(block)) continue;
    if (block.type === 'container_upload') return 'container_upload';
    const source = block.source;
    if (isObject(source)) {
      if (source.type === 'url' || source.type === 'file') return String(source.type);
      pushBlocks(source.content);
    }
    if (block.type === 'tool_result') pushBlocks(block.content);
  }
  return undefined;
}

/** Validates a parsed request body: allowed top-level fields, client-side tools only, no provider fetches. */
export function checkBodyValue(body: unknown, policy: RequestPolicy): CheckedBody | PolicyRefusal {
  if (!isObject(body)) return { reason: 'invalid_json', message: 'request body must be a JSON object' };
  for (const field of Object.keys(body)) {
    if (DEFAULT_ALLOWED_BODY_FIELDS.has(field) || policy.allowedBodyFields.has(field)) continue;
    if (SERVER_TOOL_BODY_FIELDS.has(field)) {
      if (policy.allowServerTools) continue;
      return {
        reason: 'server_tool',
        message: `body field ${quoted(field)} is refused by the Hangar gateway (server tools are off: gateway.allowServerTools)`,
      };
    }
    return { reason: 'body_field', message: `body field ${quoted(field)} is not forwarded by the Hangar gateway (gateway.allowedBodyFields)` };
  }
  if (!policy.allowServerTools) {
    if (body.tools !== undefined && !Array.isArray(body.tools)) return { reason: 'invalid_json', message: 'tools must be an array' };
    for (const tool of (body.tools as unknown[] | undefined) ?? []) {
      if (!isObject(tool)) return { reason: 'invalid_json', message: 'each tool must be an object' };
      const type = tool.type;
      if (type === undefined || (typeof type === 'string' && CLIENT_TOOL_TYPE.test(type))) continue;
      const shown = typeof type === 'string' ? quoted(type) : 'with a non-string type';
      return { reason: 'server_tool', message: `server tool ${shown} is refused by the Hangar gateway (gateway.allowServerTools)` };
    }
    const fetched = findProviderFetch(body.messages);
    if (fetched !== undefined) {
      return {
        reason: 'provider_fetch',
        message: `content with a ${quoted(fetched)} source is refused by the Hangar gateway: the provider would fetch it (gateway.allowServerTools)`,
      };
    }
  }
  return { model: typeof body.model === 'string' ? body.model : undefined, stream: body.stream === true };
}

/**
 * JSON.parse turns a body of tiny values into many times its size on the heap and blocks the event loop
 * while it does (16 MiB of `{},` became 400 MiB and 2.9 s). The CLI's bodies are mostly long strings:
 * ~80 bytes per object, array or comma, ~14 at worst for a conversation of tiny tool calls, whose
 * count the context window bounds. Bodies are refused when their objects, arrays and commas outside
 * strings number more than the floor and one per STRUCTURE_BYTES bytes.
 */
export const STRUCTURE_FLOOR = 250_000;
export const STRUCTURE_BYTES = 16;

/** Objects, arrays and commas outside strings, counted in one pass over the raw bytes. */
export function countJsonStructure(raw: Buffer): number {
  let count = 0;
  let inString = false;
  let escaped = false;
  for (let index = 0; index < raw.length; index += 1) {
    const byte = raw[index] as number;
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c) escaped = true;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b || byte === 0x2c) {
      count += 1;
    }
  }
  return count;
}

/** Parses a request body (already capped in size) once and validates it. */
export function checkBody(raw: Buffer, policy: RequestPolicy): CheckedBody | PolicyRefusal {
  const structure = countJsonStructure(raw);
  const allowed = Math.max(STRUCTURE_FLOOR, Math.floor(raw.length / STRUCTURE_BYTES));
  if (structure > allowed) {
    return { reason: 'body_shape', message: `request body has ${structure} JSON objects, arrays and commas; at most ${allowed} for ${raw.length} bytes` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return { reason: 'invalid_json', message: 'request body is not valid JSON' };
  }
  return checkBodyValue(parsed, policy);
}

/** True for a refusal (policy or limit), false for the value a check lets through. */
export function isRefusal<T extends object>(value: T): value is Extract<T, { reason: string }> {
  return 'reason' in value;
}
