// Every error answer, Fastify's own and the HTTP parser's included, is { error: { code, message } }
// with the status the ErrorCode registry gives its code.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { parseConfig } from '../../src/config/config.js';
import { ERROR_HTTP_STATUS } from '../../src/errors/errors.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';

interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

/** The answer is the documented format, its code has this status in the registry, and it is JSON. */
function expectError(answer: Answer, status: number, code: string, messagePattern?: RegExp): { code: string; message: string; details?: unknown } {
  expect(answer.statusCode, answer.body).toBe(status);
  expect(String(answer.headers['content-type'])).toMatch(/^application\/json/);
  const parsed = JSON.parse(answer.body) as { error: { code: string; message: string; details?: unknown } };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(parsed.error.code).toBe(code);
  expect(ERROR_HTTP_STATUS[code as keyof typeof ERROR_HTTP_STATUS]).toBe(status);
  expect(typeof parsed.error.message).toBe('string');
  if (messagePattern) expect(parsed.error.message).toMatch(messagePattern);
  return parsed.error;
}

/** Sends raw bytes over TCP and parses the HTTP answer (the server closes the connection). */
function rawRequest(port: number, request: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, unknown> = {};
      for (const line of headerLines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      const statusCode = Number(statusLine.split(' ')[1]);
      if (!Number.isInteger(statusCode)) reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      else resolve({ statusCode, headers, body });
    });
    socket.write(request);
  });
}

describe('error answers in the documented format', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-api-errors-'));
  let hangar: Hangar;
  let port: number;

  beforeAll(async () => {
    // Requests here test validation and error answers without keys; test/api/auth.test.ts covers keys.
    const config = parseConfig({
      dataDir: directory,
      logLevel: 'silent',
      auth: { mode: 'none' },
      server: { host: '127.0.0.1', port: 0, bodyLimitBytes: 16 * 1024 },
    });
    hangar = await createHangar(config, { logger: pino({ level: 'silent' }), sandboxProvider: createInMemorySandboxProvider() });
    port = Number(new URL(await hangar.listen()).port);
  });
  afterAll(async () => {
    await hangar.close();
    rmSync(directory, { recursive: true, force: true });
  });

  // The server listens on loopback, so requests name it as a client would (host-check.ts).
  const inject = (method: string, url: string, payload?: string, contentType = 'application/json') =>
    hangar.app.inject({
      method: method as 'GET',
      url,
      headers: { host: `127.0.0.1:${port}`, ...(payload !== undefined ? { 'content-type': contentType } : {}) },
      ...(payload !== undefined ? { payload } : {}),
    });

  it('answers an unknown route 404 NOT_FOUND', async () => {
    expectError(await inject('GET', '/v1/nothing'), 404, 'NOT_FOUND', /GET \/v1\/nothing/);
    expectError(await inject('POST', '/v1/sessions/s/nothing', '{}'), 404, 'NOT_FOUND');
  });

  it('answers a known path with another method 405 METHOD_NOT_ALLOWED and an Allow header', async () => {
    const put = await inject('PUT', '/v1/tasks', '{}');
    const error = expectError(put, 405, 'METHOD_NOT_ALLOWED', /PUT/);
    expect(String(put.headers.allow).split(', ')).toEqual(expect.arrayContaining(['GET', 'POST']));
    expect(error.details).toEqual({ allow: String(put.headers.allow).split(', ') });
    const patch = await inject('PATCH', '/v1/sessions/sess_1', '{}');
    expectError(patch, 405, 'METHOD_NOT_ALLOWED');
    expect(String(patch.headers.allow).split(', ')).toEqual(expect.arrayContaining(['GET', 'DELETE']));
    expect(String(patch.headers.allow)).not.toMatch(/POST|PUT/);
    const getOnAction = await inject('GET', '/v1/sessions/sess_1/hibernate');
    expectError(getOnAction, 405, 'METHOD_NOT_ALLOWED');
    expect(getOnAction.headers.allow).toBe('POST');
  });

  it('checks an id longer than the schema allows in the route (400 naming params.id), a far longer one 414', async () => {
    const error = expectError(await inject('GET', `/v1/sessions/${'x'.repeat(300)}`), 400, 'VALIDATION_FAILED', /params\.id/);
    expect(error.details).toEqual([expect.objectContaining({ in: 'params', path: 'id' })]);
    expectError(await inject('GET', `/v1/tasks/${'x'.repeat(5000)}`), 414, 'URI_TOO_LONG');
  });

  it('answers a bad percent-encoding 400 BAD_REQUEST, in process and over a socket', async () => {
    expectError(await inject('GET', '/v1/sessions/%zz'), 400, 'BAD_REQUEST', /percent-encoding/);
    const answer = await rawRequest(port, `GET /v1/tasks/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expectError(answer, 400, 'BAD_REQUEST', /percent-encoding/);
  });

  it('answers malformed HTTP and oversized headers in the format before any route', async () => {
    expectError(await rawRequest(port, 'THIS IS NOT HTTP\r\n\r\n'), 400, 'BAD_REQUEST', /malformed/);
    const huge = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Filler: ${'a'.repeat(20 * 1024)}\r\n\r\n`;
    expectError(await rawRequest(port, huge), 431, 'HEADERS_TOO_LARGE');
  });

  it('answers bad bodies: invalid JSON 400, too large 413, not JSON 415, missing where required 400', async () => {
    expectError(await inject('POST', '/v1/sessions', '{"pattern": '), 400, 'INVALID_JSON');
    expectError(
      await inject('POST', '/v1/sessions', JSON.stringify({ pattern: 'hybrid', files: { 'a.txt': 'x'.repeat(20 * 1024) } })),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expectError(await inject('POST', '/v1/sessions', 'pattern=hybrid', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await inject('POST', '/v1/sessions', '<session/>', 'application/xml'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await inject('POST', '/v1/sessions', '{"__proto__": {"polluted": true}, "pattern": "hybrid"}'), 400, 'INVALID_JSON');
    const missing = expectError(await inject('POST', '/v1/tasks', ''), 400, 'VALIDATION_FAILED', /body: a JSON body is required/);
    expect(missing.details).toEqual([{ in: 'body', path: '', message: 'a JSON body is required' }]);
    expectError(await inject('POST', '/v1/sessions/sess_1/messages'), 400, 'VALIDATION_FAILED', /body/);
  });

  it('reports unknown and bad query parameters under querystring, naming them', async () => {
    const unknown = expectError(await inject('GET', '/v1/tasks?stauts=running'), 400, 'VALIDATION_FAILED', /querystring\.stauts: unknown parameter/);
    expect(unknown.details).toEqual([{ in: 'querystring', path: 'stauts', message: 'unknown parameter' }]);
    const two = expectError(await inject('GET', '/v1/sessions?foo=1&bar=2'), 400, 'VALIDATION_FAILED');
    expect(two.details).toEqual([
      { in: 'querystring', path: 'foo', message: 'unknown parameter' },
      { in: 'querystring', path: 'bar', message: 'unknown parameter' },
    ]);
    const bad = expectError(await inject('GET', '/v1/sessions?limit=0'), 400, 'VALIDATION_FAILED', /querystring\.limit/);
    expect(bad.details).toEqual([expect.objectContaining({ in: 'querystring', path: 'limit' })]);
    const body = expectError(
      await inject('POST', '/v1/sessions', JSON.stringify({ pattern: 'hybrid', patern: 'x' })),
      400,
      'VALIDATION_FAILED',
      /body\.patern: unknown field/,
    );
    expect(body.details).toEqual([{ in: 'body', path: 'patern', message: 'unknown field' }]);
  });

  it('documents the error format and the statuses of the API in the OpenAPI document', async () => {
    const answer = await inject('GET', '/openapi.json');
    expect(answer.statusCode).toBe(200);
    const document = answer.json() as {
      components: { schemas: Record<string, { properties: { error: { properties: { code: { enum: string[] } } } } }> };
      paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: { required?: boolean } }>>;
    };
    expect(document.components.schemas.Error?.properties.error.properties.code.enum).toEqual(
      expect.arrayContaining(['METHOD_NOT_ALLOWED', 'BUDGET_EXCEEDED', 'SESSION_CLOSED']),
    );
    const messages = document.paths['/v1/sessions/{id}/messages']?.post;
    expect(Object.keys(messages?.responses ?? {})).toEqual(expect.arrayContaining(['400', '402', '404', '409']));
    expect(Object.keys(document.paths['/v1/sessions/{id}/hibernate']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['404', '409']));
    expect(document.paths['/v1/sessions/{id}/fork']?.post?.requestBody?.required).toBe(false);
    expect(document.paths['/v1/sandboxes']?.post?.requestBody?.required).toBe(false);
    expect(document.paths['/v1/tasks']?.post?.requestBody?.required).toBe(true);
  });
});
