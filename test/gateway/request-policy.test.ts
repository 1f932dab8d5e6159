// The gateway's allowlists: query string, anthropic-beta values, body fields, tools and content sources.
import { describe, expect, it } from 'vitest';
import {
  checkBetas,
  checkBody,
  checkBodyValue,
  checkQuery,
  countJsonStructure,
  createRequestPolicy,
  DEFAULT_ALLOWED_BETAS,
  isRefusal,
  STRUCTURE_BYTES,
  STRUCTURE_FLOOR,
} from '../../src/gateway/request-policy.js';

const strict = createRequestPolicy();
const open = createRequestPolicy({ allowServerTools: true, allowedBetas: ['files-api-2025-04-14'], allowedBodyFields: ['speed'] });

/** A body shaped like the CLI's: custom tools, thinking, context management, metadata. */
const cliBody = {
  model: 'claude-sonnet-4-5',
  max_tokens: 32000,
  stream: true,
  system: [{ type: 'text', text: 'You are Claude Code', cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'fix it' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'curl', source: { type: 'url', url: 'http://inert' } } }] },
    {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }],
    },
  ],
  tools: [
    { name: 'Bash', description: 'run', input_schema: { type: 'object' } },
    { type: 'custom', name: 'Mine', input_schema: { type: 'object' } },
  ],
  thinking: { type: 'enabled', budget_tokens: 1000 },
  context_management: { edits: [] },
  output_config: {},
  metadata: { user_id: 'u' },
};

describe('gateway request policy', () => {
  it('forwards only beta=true as the query string', () => {
    expect(checkQuery('')).toEqual({ search: '' });
    expect(checkQuery('?beta=true')).toEqual({ search: '?beta=true' });
    for (const search of ['?beta=false', '?beta=true&beta=true', '?beta=true&url=http://x', '?x=1', '?beta']) {
      const result = checkQuery(search);
      expect(isRefusal(result), search).toBe(true);
      expect((result as { reason: string }).reason).toBe('query');
    }
  });

  it('accepts the betas the CLI sends, in one header or several, and refuses any other naming it', () => {
    expect(checkBetas(undefined, strict)).toEqual({ header: undefined });
    const cli =
      'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,thinking-display-updates-2026-08-18';
    expect(checkBetas(cli, strict)).toEqual({ header: cli });
    expect(checkBetas(['claude-code-20250219', ' effort-2025-11-24 ,claude-code-20250219'], strict)).toEqual({
      header: 'claude-code-20250219,effort-2025-11-24',
    });
    for (const beta of ['mcp-client-2025-04-04', 'web-fetch-2025-09-10', 'code-execution-2025-08-25', 'files-api-2025-04-14', 'mcp-servers-2025-12-04']) {
      expect(DEFAULT_ALLOWED_BETAS.has(beta)).toBe(false);
      const result = checkBetas(`claude-code-20250219,${beta}`, strict);
      expect(result).toMatchObject({ reason: 'beta' });
      expect((result as { message: string }).message).toContain(beta);
    }
    expect(checkBetas('files-api-2025-04-14', open)).toEqual({ header: 'files-api-2025-04-14' });
  });

  it('passes the CLI body and reads its model and stream flag', () => {
    expect(checkBodyValue(cliBody, strict)).toEqual({ model: 'claude-sonnet-4-5', stream: true });
    expect(checkBody(Buffer.from(JSON.stringify(cliBody)), strict)).toEqual({ model: 'claude-sonnet-4-5', stream: true });
  });

  it('refuses mcp_servers, container and unknown fields unless allowed', () => {
    expect(checkBodyValue({ ...cliBody, mcp_servers: [{ type: 'url', url: 'https://x', name: 'x' }] }, strict)).toMatchObject({ reason: 'server_tool' });
    expect(checkBodyValue({ ...cliBody, container: 'c1' }, strict)).toMatchObject({ reason: 'server_tool' });
    expect(checkBodyValue({ ...cliBody, speed: 'fast' }, strict)).toMatchObject({ reason: 'body_field' });
    expect(checkBodyValue({ ...cliBody, mcp_servers: [] }, open)).toEqual({ model: 'claude-sonnet-4-5', stream: true });
    expect(checkBodyValue({ ...cliBody, speed: 'fast' }, open)).toEqual({ model: 'claude-sonnet-4-5', stream: true });
  });

  it('refuses server tools but keeps client-side Anthropic tools', () => {
    for (const type of ['web_search_20250305', 'web_fetch_20250910', 'code_execution_20250825', 'mcp_toolset', 'future_tool_20300101']) {
      expect(checkBodyValue({ ...cliBody, tools: [...cliBody.tools, { type, name: 'x' }] }, strict), type).toMatchObject({ reason: 'server_tool' });
      expect(checkBodyValue({ ...cliBody, tools: [{ type, name: 'x' }] }, open)).not.toHaveProperty('reason');
    }
    for (const type of ['bash_20250124', 'text_editor_20250728', 'computer_20250124', 'memory_20250818', 'tool_search_tool_regex_20251119']) {
      expect(checkBodyValue({ ...cliBody, tools: [{ type, name: 'x' }] }, strict), type).not.toHaveProperty('reason');
    }
    expect(checkBodyValue({ ...cliBody, tools: [{ type: 42, name: 'x' }] }, strict)).toMatchObject({ reason: 'server_tool' });
    expect(checkBodyValue({ ...cliBody, tools: 'web_search' }, strict)).toMatchObject({ reason: 'invalid_json' });
  });

  it('refuses content the provider would fetch (URL and file sources, also inside tool results), not tool inputs', () => {
    const withBlock = (block: unknown) => ({ ...cliBody, messages: [...cliBody.messages, { role: 'user', content: [block] }] });
    expect(checkBodyValue(withBlock({ type: 'image', source: { type: 'url', url: 'http://169.254.169.254/' } }), strict)).toMatchObject({
      reason: 'provider_fetch',
    });
    expect(checkBodyValue(withBlock({ type: 'document', source: { type: 'file', file_id: 'file_1' } }), strict)).toMatchObject({ reason: 'provider_fetch' });
    expect(
      checkBodyValue(withBlock({ type: 'tool_result', tool_use_id: 't', content: [{ type: 'document', source: { type: 'url', url: 'http://x' } }] }), strict),
    ).toMatchObject({ reason: 'provider_fetch' });
    expect(
      checkBodyValue(
        withBlock({ type: 'document', source: { type: 'content', content: [{ type: 'image', source: { type: 'url', url: 'http://x' } }] } }),
        strict,
      ),
    ).toMatchObject({ reason: 'provider_fetch' });
    expect(checkBodyValue(withBlock({ type: 'container_upload', file_id: 'f' }), strict)).toMatchObject({ reason: 'provider_fetch' });
    expect(checkBodyValue(withBlock({ type: 'image', source: { type: 'url', url: 'http://x' } }), open)).not.toHaveProperty('reason');
  });

  it('refuses bodies that are not a JSON object', () => {
    expect(checkBody(Buffer.from('{"model":'), strict)).toMatchObject({ reason: 'invalid_json' });
    expect(checkBody(Buffer.from('[1,2]'), strict)).toMatchObject({ reason: 'invalid_json' });
    expect(checkBody(Buffer.from('null'), strict)).toMatchObject({ reason: 'invalid_json' });
  });

  it('counts objects, arrays and commas outside strings only', () => {
    expect(countJsonStructure(Buffer.from('{"a":[1,2,{"b":"x,{[\\",y"}]}'))).toBe(5);
    expect(countJsonStructure(Buffer.from(JSON.stringify(cliBody)))).toBeLessThan(JSON.stringify(cliBody).length / 10);
  });

  it('refuses bodies of many tiny values before parsing them, and keeps long text bodies', () => {
    const flood = Buffer.from(`{"model":"m","messages":[${'{},'.repeat(STRUCTURE_FLOOR)}{}]}`);
    expect(checkBody(flood, strict)).toMatchObject({ reason: 'body_shape' });
    const text = Buffer.from(JSON.stringify({ ...cliBody, messages: [{ role: 'user', content: 'x'.repeat(STRUCTURE_FLOOR * STRUCTURE_BYTES * 2) }] }));
    expect(checkBody(text, strict)).toEqual({ model: 'claude-sonnet-4-5', stream: true });
  });

  it('never echoes more than a short printable excerpt of what the sandbox sent', () => {
    const long = `x${'\u0000'.repeat(10)}${'y'.repeat(500)}`;
    const result = checkBetas(long, strict) as { message: string };
    expect(result.message.length).toBeLessThan(200);
    expect(result.message).not.toContain('\u0000');
  });
});
