// Values for the API fuzz test (test/helpers/api-fuzz.ts): hostile text and JSON, values of a documented
// JSON schema, and valid bodies of the operations that take one.
import fc from 'fast-check';

/** The part of a JSON schema (as the OpenAPI document has it) the generators read. */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  maxItems?: number;
}

/** Strings that have broken parsers, routers and path handling before. */
const NASTY = [
  '',
  ' ',
  '.',
  '..',
  '../..',
  '../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '%',
  '%zz',
  '%00',
  '%2e%2e',
  '%252e%252e',
  '%C0%AE',
  '%ff',
  '\u0000',
  'a\u0000b',
  '\r\n',
  '\t',
  '?',
  '#',
  '&',
  '=',
  ';',
  '*',
  '\\',
  '/',
  '//',
  '\uFEFF',
  '\uD800',
  '\uDFFF',
  '\u202E',
  '🙂',
  'é',
  '\u00ff',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  'NaN',
  'Infinity',
  '1e309',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '[]',
  '{}',
  "' OR 1=1 --",
  '"; DROP TABLE tasks; --',
  '${jndi:ldap://x}',
  '<script>',
  'sess_',
  'task_',
  `sess_${'0'.repeat(32)}`,
  `task_${'f'.repeat(32)}`,
  `sched_${'a'.repeat(32)}`,
  `sbx_${'1'.repeat(32)}`,
  'x'.repeat(200),
  'x'.repeat(201),
  'x'.repeat(500),
  'x'.repeat(501),
];

/** Hostile text: the nasty list, unicode and arbitrary code points, lengths around the limits (200, 500). */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 150, maxLength: 700 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NASTY), fc.string({ maxLength: 10 }), fc.constantFrom(...NASTY)).map((parts) => parts.join('')) },
);

export const hostileNumberText = fc.constantFrom(
  '1e309',
  '-1e309',
  '99999999999999999999999',
  '9007199254740993',
  '-1',
  '-0',
  '0',
  '1.5',
  '0x10',
  '0b1',
  '1_000',
  ' 5',
  '5 ',
  'Infinity',
  'NaN',
  '١٢',
  '',
  '1,2',
);

/** JSON values of every type, including the edges of numbers and strings. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -0, -1, 1.5, 1e308, -1e308, 5e-324, 2 ** 53 + 2, [], {}, [null], { '': '' }) },
  { weight: 2, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.array(hostileText, { maxLength: 70 }) },
  { weight: 1, arbitrary: fc.dictionary(hostileText, hostileText, { maxKeys: 60 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 30_000 }).map((length) => 'y'.repeat(length)) },
);

/** Values that satisfy a JSON schema's types and bounds (not the refinements it cannot express), kept small. */
export function fromSchema(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 4) return fc.jsonValue({ maxDepth: 2 });
  if (schema.enum !== undefined && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined && alternatives.length > 0) return fc.oneof(...alternatives.map((alternative) => fromSchema(alternative, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      const minLength = schema.minLength ?? 0;
      return fc.string({ minLength, maxLength: Math.max(minLength, Math.min(schema.maxLength ?? 40, 40)) });
    }
    case 'integer':
      return fc.integer({ min: Math.max(schema.minimum ?? -1_000_000, -1_000_000), max: Math.min(schema.maximum ?? 1_000_000, 1_000_000) });
    case 'number': {
      const min = schema.minimum ?? schema.exclusiveMinimum ?? -1_000_000;
      return fc.double({ min, max: schema.maximum ?? 1_000_000, noNaN: true, noDefaultInfinity: true, minExcluded: schema.exclusiveMinimum !== undefined });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(schema.items, depth + 1), { maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'object': {
      if (schema.properties !== undefined) {
        const model = Object.fromEntries(Object.entries(schema.properties).map(([name, property]) => [name, fromSchema(property, depth + 1)]));
        return fc.record(model, { requiredKeys: (schema.required ?? []).filter((name) => name in model) });
      }
      const values = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
      return fc.dictionary(
        fromSchema(schema.propertyNames ?? { type: 'string', minLength: 1 }, depth + 1) as fc.Arbitrary<string>,
        fromSchema(values, depth + 1),
        {
          maxKeys: 3,
        },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const safeText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((text) => text.trim() !== '');
const resources = fc.record(
  {
    memoryMb: fc.integer({ min: 64, max: 1024 }),
    cpus: fc.constantFrom(0.05, 0.5, 1, 2),
    diskMb: fc.integer({ min: 8, max: 512 }),
    pids: fc.integer({ min: 32, max: 256 }),
  },
  { requiredKeys: [] },
);
const agentOptions = {
  allowedTools: fc.subarray(['Bash', 'Read', 'Write', 'Edit', 'Bash(npm test:*)', 'Read(./src/**)']),
  disallowedTools: fc.subarray(['WebFetch', 'Bash(rm:*)']),
  maxTurns: fc.integer({ min: 1, max: 1000 }),
  maxBudgetUsd: fc.double({ min: 0.01, max: 100, noNaN: true }),
  permissionMode: fc.constantFrom('dontAsk', 'acceptEdits', 'bypassPermissions', 'plan'),
  appendSystemPrompt: fc.string({ maxLength: 100 }),
  model: fc.constantFrom('claude-sonnet-4-5', 'claude-haiku-4-5', 'x'),
  resources,
  files: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}(\/[a-z]{1,8}){0,2}\.txt$/), fc.string({ maxLength: 200 }), { maxKeys: 3 }),
  network: fc.record(
    {
      allowedHosts: fc.subarray(['api.github.com', '*.example.com', 'example.org:8443']),
      presets: fc.subarray(['npm', 'pypi', 'github']),
      mode: fc.constantFrom('enforce', 'learn'),
    },
    { requiredKeys: [] },
  ),
};
const metadata = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), fc.string({ maxLength: 40 }), { maxKeys: 4 });

/**
 * Valid bodies of the operations that take one. A task answers at once (`wait: false`), a session
 * rarely gets a first prompt, and schedules are far apart, so few agents start.
 */
export const VALID_BODIES: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  runTask: fc.record({ prompt: safeText, wait: fc.constant(false), ...agentOptions }, { requiredKeys: ['prompt', 'wait'] }),
  createSession: fc.record(
    {
      pattern: fc.constantFrom('long-running', 'hybrid'),
      ...agentOptions,
      idleTimeoutSec: fc.integer({ min: 60, max: 7 * 86_400 }),
      metadata,
      prompt: fc.oneof({ weight: 1, arbitrary: safeText }, { weight: 9, arbitrary: fc.constant(undefined) }),
    },
    { requiredKeys: ['pattern'] },
  ),
  sendMessage: fc.record({ prompt: safeText }),
  forkSession: fc.record({ checkpointId: fc.stringMatching(/^ckpt_[0-9a-f]{32}$/), metadata }, { requiredKeys: [] }),
  addSchedule: fc.oneof(
    fc.record({ every: fc.constantFrom('1h', '12h', '1d', '7d'), prompt: safeText }),
    fc.record({ cron: fc.constantFrom('0 0 1 1 *', '30 4 * * 0', '0 3 29 2 *'), prompt: safeText }),
  ),
  createSandbox: fc.record({ resources }, { requiredKeys: [] }),
  createApiKey: fc.record({ name: safeText, scopes: fc.uniqueArray(fc.constantFrom('admin', 'run', 'read'), { minLength: 1, maxLength: 3 }) }),
};
