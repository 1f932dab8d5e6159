// An upstream error as the agent and the user see it: the gateway names the real upstream and
// passes on what it said (here the scripted model's "scenario exhausted" with how to start over),
// and the agent's error text names the upstream instead of the sandbox's loopback gateway address.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { explainUpstreamError, nameRealUpstream, upstreamLabel } from '../../src/gateway/upstream-error.js';
import { startScriptedModelServer } from '../../src/model/scripted-model-server.js';
import { startGatewayWithClient } from '../helpers/gateway-over-upstream.js';

describe('upstream errors through the gateway', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-upstream-error-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('names the real upstream and what it said, keeping status and retry headers', async () => {
    const model = await startScriptedModelServer({ scenario: { replies: [] }, port: 0 });
    const { gateway, client, close } = await startGatewayWithClient({
      socketPath: path.join(directory, 'gateway.sock'),
      upstreamUrl: model.url,
      upstreamApiKey: 'sk-test',
      retry: { maxRetries: 0 },
    });
    try {
      const token = gateway.registerSession('task-1');
      const response = await request('http://gateway/v1/messages?beta=true', {
        method: 'POST',
        dispatcher: client,
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': token },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          max_tokens: 100,
          messages: [{ role: 'user', content: 'hi' }],
          tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
        }),
      });
      expect(response.statusCode).toBe(500);
      expect(response.headers['x-should-retry']).toBe('false');
      const body = (await response.body.json()) as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('api_error');
      expect(body.error.message).toMatch(
        new RegExp(`^the model upstream ${model.url.replace(/[.]/g, '\\.')} \\(behind Hangar's gateway\\) answered 500: Scripted scenario exhausted`),
      );
      expect(body.error.message).toMatch(/serve it with --loop/);
      expect(gateway.usage('task-1').failedRequests).toBe(1);
    } finally {
      await close();
      await model.close();
    }
  });

  it('explains a body that is not JSON, and never shows credentials of the upstream URL', () => {
    const label = upstreamLabel('https://user:secret@llm.example.com/anthropic/?x=1');
    expect(label).toBe('https://llm.example.com/anthropic');
    expect(JSON.parse(explainUpstreamError(label, 502, '<html>Bad gateway</html>\n'))).toEqual({
      type: 'error',
      error: {
        type: 'api_error',
        message: "the model upstream https://llm.example.com/anthropic (behind Hangar's gateway) answered 502: <html>Bad gateway</html>",
      },
    });
  });

  it('replaces the sandbox-side gateway address in an agent error with the upstream', () => {
    const cli =
      'API Error: boom. This is a server-side issue, usually temporary — try again in a moment. If it persists, check your inference gateway (127.0.0.1:4100).';
    expect(nameRealUpstream(cli, 4100, 'http://127.0.0.1:8787')).toBe(
      "API Error: boom. This is a server-side issue, usually temporary — try again in a moment. If it persists, check the model upstream (http://127.0.0.1:8787, through Hangar's gateway).",
    );
  });
});
