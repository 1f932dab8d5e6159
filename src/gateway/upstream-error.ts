// What a sandbox and the user see when the model upstream answers an error. The Claude Code CLI
// inside the sandbox knows only the gateway's loopback address there (and blames "your inference
// gateway (127.0.0.1:4100)"), so the gateway names the real upstream and passes on what it said.

/** The upstream as shown to users: scheme, host and path, never credentials or a query. */
export function upstreamLabel(upstreamUrl: string): string {
  const url = new URL(upstreamUrl);
  return `${url.origin}${url.pathname.replace(/\/$/, '')}`;
}

/** Largest upstream error body the gateway reads to explain it; a longer one is cut. */
export const MAX_UPSTREAM_ERROR_BYTES = 64 * 1024;

/** The first MAX_UPSTREAM_ERROR_BYTES of an upstream error body, as text (the caller destroys the stream). */
export async function readUpstreamErrorBody(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    chunks.push(buffer.subarray(0, MAX_UPSTREAM_ERROR_BYTES - size));
    size += buffer.length;
    if (size >= MAX_UPSTREAM_ERROR_BYTES) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The Anthropic-shaped error body for an upstream error answer: the same error type, with a
 * message that names the upstream, its status and what it said.
 */
export function explainUpstreamError(label: string, status: number, body: string): string {
  let type = 'api_error';
  let said: string | undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { type?: unknown; message?: unknown } };
    if (typeof parsed.error?.type === 'string') type = parsed.error.type;
    if (typeof parsed.error?.message === 'string') said = parsed.error.message;
  } catch {
    // Not JSON: the text itself is what the upstream said.
  }
  said ??= body.trim() === '' ? '(no body)' : body.trim().replace(/\s+/g, ' ').slice(0, 500);
  return JSON.stringify({ type: 'error', error: { type, message: `the model upstream ${label} (behind Hangar's gateway) answered ${status}: ${said}` } });
}

/**
 * An agent's error text with the sandbox-side gateway address (which means nothing outside the
 * sandbox) replaced by the real upstream.
 */
export function nameRealUpstream(message: string, sandboxPort: number, label: string): string {
  return message.replaceAll(`your inference gateway (127.0.0.1:${sandboxPort})`, `the model upstream (${label}, through Hangar's gateway)`);
}
