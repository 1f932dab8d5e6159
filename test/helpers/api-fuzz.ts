// Generators of HTTP requests for the API fuzz test (test/api/fuzz.test.ts), driven by the OpenAPI
// document: for each operation, path parameters (ids of records that exist, ids that do not, and
// hostile text), query strings (documented parameters with good and bad values, unknown keys,
// repeated keys) and bodies (values from the documented schema with one field mutated, random JSON,
// wrong content types, truncated, deeply nested or oversized JSON). A request is plain data, so
// fast-check can print the one that failed; `pathOf` makes its URL path once the ids it names exist.
import fc from 'fast-check';
import { fromSchema, hostileNumberText, hostileText, hostileValue, VALID_BODIES, type JsonSchema } from './api-fuzz-values.js';

export interface Operation {
  method: string;
  route: string;
  operationId: string;
  pathParams: string[];
  query: Array<{ name: string; schema: JsonSchema }>;
  body?: JsonSchema;
}

/** Kinds of records whose ids the fuzzer reuses in paths. */
export type PoolName = 'task' | 'session' | 'sandbox' | 'schedule' | 'key' | 'tenant';
export const POOL_NAMES: readonly PoolName[] = ['task', 'session', 'sandbox', 'schedule', 'key', 'tenant'];

/** Text for a URL: `raw` sends bytes 0x21-0xff as they are (a sloppy client), the rest percent-encoded. */
export interface UrlText {
  text: string;
  raw: boolean;
}

export type PathParam = { known: PoolName; index: number } | UrlText;

export interface FuzzBody {
  /** How the body was made, for the report. */
  kind: string;
  content: string | Uint8Array;
  /** The Content-Type header; none when undefined. */
  contentType?: string;
}

export interface FuzzRequest {
  operation: number;
  method: string;
  params: Record<string, PathParam>;
  query: Array<[UrlText, UrlText]>;
  headers: Record<string, string>;
  body?: FuzzBody;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'SEARCH'];

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Percent-encodes every byte of the UTF-8 text except the unreserved characters (lone surrogates become U+FFFD). */
export function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function encodeUrlText({ text, raw }: UrlText): string {
  if (!raw) return percentEncode(text);
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    out += code >= 0x21 && code <= 0xff ? char : percentEncode(char);
  }
  return out;
}

/** One change to an otherwise valid body; `value` is hostile, or (for `set`) may be one the field's schema allows. */
interface Mutation {
  kind: 'delete' | 'set' | 'add' | 'nested' | 'replace';
  pick: number;
  key: string;
  value: unknown;
}

function mutations(schema: JsonSchema): fc.Arbitrary<Mutation> {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  const hostile = fc.record({
    kind: fc.constantFrom<Mutation['kind']>('delete', 'set', 'set', 'add', 'nested', 'nested', 'replace'),
    pick: fc.nat(),
    key: hostileText,
    value: hostileValue,
  });
  if (names.length === 0) return hostile;
  // A documented field set to a value of its schema's type and bounds (which the refinements may still refuse).
  const bySchema = fc
    .integer({ min: 0, max: names.length - 1 })
    .chain((index) => fc.tuple(fc.constant(index), fromSchema(properties[names[index]!])))
    .map(([pick, value]): Mutation => ({ kind: 'set', pick, key: '', value }));
  return fc.oneof({ weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: bySchema });
}

function applyMutation(body: Record<string, unknown>, names: string[], change: Mutation): unknown {
  const keys = Object.keys(body);
  const pickFrom = (list: string[]): string | undefined => (list.length === 0 ? undefined : list[change.pick % list.length]);
  const copy: Record<string, unknown> = { ...body };
  switch (change.kind) {
    case 'delete': {
      const key = pickFrom(keys);
      if (key !== undefined) delete copy[key];
      return copy;
    }
    case 'set':
      copy[pickFrom(names) ?? change.key] = change.value;
      return copy;
    case 'add':
      copy[change.key] = change.value;
      return copy;
    case 'nested': {
      const key = pickFrom(keys.filter((name) => typeof copy[name] === 'object' && copy[name] !== null));
      if (key === undefined) return { ...copy, [change.key]: change.value };
      const inner = copy[key];
      if (Array.isArray(inner))
        copy[key] = inner.length === 0 ? [change.value] : inner.map((item, index) => (index === change.pick % inner.length ? change.value : item));
      else {
        const innerKeys = Object.keys(inner as object);
        const innerKey = innerKeys.length === 0 || change.pick % 3 === 0 ? change.key : innerKeys[change.pick % innerKeys.length]!;
        copy[key] = { ...(inner as object), [innerKey]: change.value };
      }
      return copy;
    }
    case 'replace':
      return change.value;
  }
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8'];
const WRONG_TYPES = [
  'text/plain',
  'text/json',
  'application/jsonx',
  'application/vnd.api+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/xml',
  '*/*',
  'application/json; charset=latin1',
  'application/json; charset=utf-16le',
  'application/json, text/plain',
  'application/json; boundary="',
  ';',
  'json',
];

/** A body as fast-check prints it in a counterexample: its start, not megabytes. */
function printable(body: FuzzBody | undefined): FuzzBody | undefined {
  if (body === undefined) return undefined;
  const content = typeof body.content === 'string' ? body.content : `<${body.content.length} bytes>`;
  const shown = content.length > 200 ? `${content.slice(0, 200)}... (${content.length} chars)` : content;
  return Object.assign(body, {
    [fc.toStringMethod]: () => `{kind: ${body.kind}, contentType: ${body.contentType ?? 'none'}, content: ${JSON.stringify(shown)}}`,
  });
}

/** Bodies for an operation: near-valid ones most, then random, malformed, oversized and mistyped ones. */
export function bodies(operation: Operation, bodyLimitBytes: number): fc.Arbitrary<FuzzBody | undefined> {
  const schema = operation.body ?? { type: 'object', properties: {} };
  const names = Object.keys(schema.properties ?? {});
  const valid: fc.Arbitrary<unknown> = VALID_BODIES[operation.operationId] ?? fc.constant({});
  const json = (kind: string) => (value: unknown) => ({ kind, content: JSON.stringify(value) ?? 'null', contentType: 'application/json' });
  const nearValid = fc
    .tuple(valid, mutations(schema))
    .map(([value, change]) =>
      typeof value === 'object' && value !== null && !Array.isArray(value) ? applyMutation(value as Record<string, unknown>, names, change) : value,
    );
  return fc
    .oneof(
      { weight: 10, arbitrary: nearValid.map(json('one field mutated')) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(valid, fc.constantFrom(...JSON_TYPES))
          .map(([value, contentType]) => ({ kind: 'valid', content: JSON.stringify(value), contentType })),
      },
      { weight: 3, arbitrary: fc.jsonValue().map(json('random JSON')) },
      { weight: 2, arbitrary: fc.object({ maxDepth: 3 }).map(json('random object')) },
      {
        weight: 2,
        arbitrary: fc.tuple(valid, fc.nat()).map(([value, cut]) => {
          const text = JSON.stringify(value);
          return { kind: 'truncated JSON', content: text.slice(0, cut % Math.max(text.length, 1)), contentType: 'application/json' };
        }),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.integer({ min: 50, max: 20_000 }), fc.boolean(), fc.constantFrom(...names, 'x')).map(([depth, arrays, name]) => {
          const nested = arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
          return { kind: `nested ${depth} deep`, content: `{"${name}":${nested}}`, contentType: 'application/json' };
        }),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(valid, fc.constantFrom(...names, 'x'), fc.constantFrom(1_000, 100_000, 100_001, 200_000, 200_001, 300_000))
          .map(([value, name, length]) => ({
            kind: `big string (${length})`,
            content: JSON.stringify({ ...(typeof value === 'object' && value !== null ? value : {}), [name]: 'z'.repeat(length) }),
            contentType: 'application/json',
          })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(valid, fc.constantFrom(...WRONG_TYPES))
          .map(([value, contentType]) => ({ kind: 'wrong content type', content: JSON.stringify(value), contentType })),
      },
      {
        weight: 1,
        arbitrary: fc.oneof(
          { weight: 4, arbitrary: valid.map((value): FuzzBody => ({ kind: 'no content type', content: JSON.stringify(value) })) },
          // Built when drawn: a body one past the server's limit.
          {
            weight: 1,
            arbitrary: fc
              .constant(null)
              .map((): FuzzBody => ({ kind: 'over the body limit', content: `"${'o'.repeat(bodyLimitBytes)}"`, contentType: 'application/json' })),
          },
        ),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            '{"__proto__":{"admin":true}}',
            '{"constructor":{"prototype":{"admin":true}}}',
            '{"prompt":"a","prompt":"b"}',
            '{"a":1,}',
            "{'a':1}",
            'NaN',
            '\uFEFF{}',
            '{"prompt":"\\ud800"}',
            '{"prompt":"\\u0000"}',
            '   ',
            '\n',
          )
          .map((content) => ({ kind: 'tricky JSON', content, contentType: 'application/json' })),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((content) => ({ kind: 'random bytes', content, contentType: 'application/json' })) },
      { weight: 3, arbitrary: fc.constant(undefined) },
    )
    .map(printable);
}

function queryEntries(operation: Operation, allNames: string[]): fc.Arbitrary<Array<[UrlText, UrlText]>> {
  const text = (arbitrary: fc.Arbitrary<string>) => fc.tuple(arbitrary, fc.boolean()).map(([value, raw]) => ({ text: value, raw }));
  const documented = operation.query.map(({ name, schema }) =>
    fc.tuple(
      fc.constant({ text: name, raw: false }),
      text(
        fc.oneof(
          fromSchema(schema).map((value) => String(value)),
          hostileNumberText,
          hostileText,
        ),
      ),
    ),
  );
  const entry = fc.oneof(
    ...(documented.length > 0 ? [{ weight: 6, arbitrary: fc.oneof(...documented) }] : []),
    {
      weight: 1,
      arbitrary: fc.tuple(text(fc.constantFrom(...allNames, 'limit[]', 'limit[0]', 'a.b', '__proto__')), text(fc.oneof(hostileNumberText, hostileText))),
    },
    { weight: 1, arbitrary: fc.tuple(text(hostileText), text(hostileText)) },
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<Array<[UrlText, UrlText]>>([]) },
    { weight: 3, arbitrary: fc.array(entry as fc.Arbitrary<[UrlText, UrlText]>, { maxLength: 4 }) },
  );
}

function poolOf(route: string, param: string): PoolName {
  if (param === 'scheduleId') return 'schedule';
  if (route.startsWith('/v1/tasks')) return 'task';
  if (route.startsWith('/v1/sandboxes')) return 'sandbox';
  if (route.startsWith('/v1/keys')) return 'key';
  if (route.startsWith('/v1/tenants')) return 'tenant';
  return 'session';
}

function pathParam(pool: PoolName): fc.Arbitrary<PathParam> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.nat().map((index) => ({ known: pool, index })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...POOL_NAMES), fc.nat()).map(([known, index]) => ({ known, index })) },
    { weight: 1, arbitrary: fc.stringMatching(/^(task|sess|sched|sbx|ckpt)_[0-9a-f]{32}$/).map((text) => ({ text, raw: false })) },
    { weight: 4, arbitrary: fc.tuple(hostileText, fc.boolean()).map(([text, raw]) => ({ text, raw })) },
  );
}

const headerValue = fc.oneof(hostileNumberText, hostileText).filter((value) => /^[\x20-\x7e\x80-\xff]*$/.test(value) && value.trim() === value);

/** Requests for one operation: its method mostly, any method sometimes. */
export function requestsFor(index: number, operation: Operation, allQueryNames: string[], bodyLimitBytes: number) {
  const params = Object.fromEntries(operation.pathParams.map((name) => [name, pathParam(poolOf(operation.route, name))]));
  return fc.record({
    operation: fc.constant(index),
    method: fc.oneof({ weight: 8, arbitrary: fc.constant(operation.method.toUpperCase()) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
    params: fc.record(params),
    query: queryEntries(operation, allQueryNames),
    headers: fc.oneof(
      { weight: 8, arbitrary: fc.constant({}) },
      { weight: 1, arbitrary: headerValue.map((value): Record<string, string> => ({ 'last-event-id': value })) },
      { weight: 1, arbitrary: fc.constantFrom<Record<string, string>>({ accept: 'text/event-stream' }, { 'content-encoding': 'gzip' }) },
    ),
    body: bodies(operation, bodyLimitBytes),
  }) as fc.Arbitrary<FuzzRequest>;
}

/** Reads the operations of an OpenAPI document. */
export function operationsOf(document: { paths: Record<string, Record<string, unknown>> }): Operation[] {
  const operations: Operation[] = [];
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(methods)) {
      const operation = value as {
        operationId: string;
        parameters?: Array<{ in: string; name: string; schema: JsonSchema }>;
        requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
      };
      const parameters = operation.parameters ?? [];
      const body = operation.requestBody?.content?.['application/json']?.schema;
      operations.push({
        method,
        route,
        operationId: operation.operationId,
        pathParams: parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name),
        query: parameters.filter((parameter) => parameter.in === 'query').map(({ name, schema }) => ({ name, schema })),
        ...(body !== undefined ? { body } : {}),
      });
    }
  }
  return operations;
}

/** The path (with query string) of a request, with known ids taken from the pools. */
export function pathOf(request: FuzzRequest, operation: Operation, pools: Record<PoolName, string[]>): string {
  const path = operation.route.replace(/\{(\w+)\}/g, (_, name: string) => {
    const param = request.params[name];
    if (param === undefined) return 'none';
    if ('known' in param) {
      const pool = pools[param.known];
      return pool.length === 0 ? 'none' : percentEncode(pool[param.index % pool.length]!);
    }
    return encodeUrlText(param);
  });
  const query = request.query.map(([key, value]) => `${encodeUrlText(key)}=${encodeUrlText(value)}`).join('&');
  return query === '' ? path : `${path}?${query}`;
}
