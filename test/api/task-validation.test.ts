// Bad input to the task API gets a 4xx with Hangar's error body, and never reaches a sandbox.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { parseConfig } from '../../src/config/config.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';

describe('task API input validation', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-api-'));
  let hangar: Hangar;

  beforeAll(async () => {
    // Requests here test validation and error answers without keys; test/api/auth.test.ts covers keys.
    const config = parseConfig({
      dataDir: directory,
      logLevel: 'silent',
      auth: { mode: 'none' },
      agent: { maxPromptChars: 1000 },
      server: { bodyLimitBytes: 64 * 1024 },
    });
    hangar = await createHangar(config, { logger: pino({ level: 'silent' }), sandboxProvider: createInMemorySandboxProvider() });
  });
  afterAll(async () => {
    await hangar.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const post = (payload: string, contentType = 'application/json') =>
    hangar.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': contentType }, payload });

  const expectError = (response: { statusCode: number; json: () => unknown }, status: number, code: string, messagePattern?: RegExp) => {
    expect(response.statusCode).toBe(status);
    const body = response.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    if (messagePattern) expect(body.error.message).toMatch(messagePattern);
  };

  it('rejects a body that is not JSON', async () => {
    expectError(await post('{"prompt": "hi",'), 400, 'INVALID_JSON');
  });

  it('rejects a missing prompt, naming the field', async () => {
    expectError(await post(JSON.stringify({ maxTurns: 2 })), 400, 'VALIDATION_FAILED', /prompt/);
  });

  it('rejects an empty prompt and one longer than the configured maximum', async () => {
    expectError(await post(JSON.stringify({ prompt: '   ' })), 400, 'VALIDATION_FAILED', /prompt/);
    expectError(await post(JSON.stringify({ prompt: 'x'.repeat(1001) })), 400, 'VALIDATION_FAILED', /prompt/);
  });

  it('rejects unknown fields', async () => {
    expectError(await post(JSON.stringify({ prompt: 'hi', promt: 'typo' })), 400, 'VALIDATION_FAILED', /promt/);
  });

  it('rejects bad resources and bad limits', async () => {
    expectError(await post(JSON.stringify({ prompt: 'hi', resources: { memoryMb: -5 } })), 400, 'VALIDATION_FAILED', /resources\.memoryMb/);
    expectError(await post(JSON.stringify({ prompt: 'hi', resources: { memoryMb: 10_000_000 } })), 400, 'VALIDATION_FAILED', /resources\.memoryMb/);
    expectError(await post(JSON.stringify({ prompt: 'hi', resources: { gpus: 1 } })), 400, 'VALIDATION_FAILED', /gpus/);
    expectError(await post(JSON.stringify({ prompt: 'hi', resources: { cpus: 'two' } })), 400, 'VALIDATION_FAILED', /resources\.cpus/);
    expectError(await post(JSON.stringify({ prompt: 'hi', maxTurns: 0 })), 400, 'VALIDATION_FAILED', /maxTurns/);
    expectError(await post(JSON.stringify({ prompt: 'hi', allowedTools: ['Bash; rm -rf /'] })), 400, 'VALIDATION_FAILED', /allowedTools/);
    expectError(await post(JSON.stringify({ prompt: 'hi', resources: { pids: 1_000_000 } })), 400, 'VALIDATION_FAILED', /resources\.pids/);
    expectError(await post(JSON.stringify({ prompt: 'hi', resources: { pids: 2 } })), 400, 'VALIDATION_FAILED', /resources\.pids/);
  });

  it('rejects malformed permission rules in allowedTools and disallowedTools, saying what a rule looks like', async () => {
    for (const rule of ['Bash(npm test', 'Bash()', '(npm test)', 'Bash(x)y', 'Bash)', 'Ba sh', 'Bash(a\nb)']) {
      expectError(
        await post(JSON.stringify({ prompt: 'hi', allowedTools: ['Read', rule] })),
        400,
        'VALIDATION_FAILED',
        /allowedTools\.1: .* is not a tool name or permission rule .*use Tool or Tool\(specifier\), e\.g\. Bash, Bash\(npm test:\*\), Read\(\.\/src\/\*\*\)/,
      );
    }
    expectError(
      await post(JSON.stringify({ prompt: 'hi', disallowedTools: ['Bash(rm:*'] })),
      400,
      'VALIDATION_FAILED',
      /disallowedTools\.0: "Bash\(rm:\*" is not a tool name or permission rule \(the specifier must end with "\)"\)/,
    );
  });

  it('rejects workspace files whose paths leave the workspace', async () => {
    expectError(await post(JSON.stringify({ prompt: 'hi', files: { '../escape.txt': 'x' } })), 400, 'VALIDATION_FAILED', /escape/);
    expectError(await post(JSON.stringify({ prompt: 'hi', files: { '/etc/passwd': 'x' } })), 400, 'VALIDATION_FAILED', /passwd/);
  });

  it('rejects a body over the size limit with 413 and a non-JSON content type with 415', async () => {
    expectError(await post(JSON.stringify({ prompt: 'hi', files: { 'big.txt': 'x'.repeat(100 * 1024) } })), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await post('prompt=hi', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 404 with the error body for an unknown task and an unknown route', async () => {
    const unknownTask = await hangar.app.inject({ method: 'GET', url: '/v1/tasks/task_nope' });
    expectError(unknownTask, 404, 'TASK_NOT_FOUND', /task_nope/);
    expectError(await hangar.app.inject({ method: 'GET', url: '/v1/nothing' }), 404, 'NOT_FOUND');
  });

  it('serves health, readiness and an OpenAPI document describing POST /v1/tasks', async () => {
    expect((await hangar.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await hangar.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const openapi = (await hangar.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }> } }>
      >;
    };
    expect(openapi.openapi).toBe('3.1.0');
    const body = openapi.paths['/v1/tasks']?.post?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(body?.properties ?? {})).toEqual(expect.arrayContaining(['prompt', 'allowedTools', 'maxTurns', 'resources', 'files', 'stream']));
    expect(body?.required).toContain('prompt');
  });
});
