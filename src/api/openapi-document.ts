// The OpenAPI document's last touches, on what @fastify/swagger built from the route schemas: the
// components (the schemas with a meta id, views.ts), the Retry-After header of every 429 answer,
// which request bodies are optional, and the API key every /v1 operation needs (401 and 403).
import { jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { requiredScope } from '../auth/scopes.js';

/** Operations whose body may be left out (an empty object is assumed). */
const OPTIONAL_BODIES = new Set(['post /v1/sessions/{id}/fork', 'post /v1/sandboxes']);

const RETRY_AFTER = {
  description: 'Seconds after which the request may succeed',
  schema: { type: 'integer', minimum: 0 },
};

interface Answer {
  description?: string;
  headers?: Record<string, unknown>;
  content?: unknown;
}

interface Operation {
  requestBody?: { required?: boolean };
  responses?: Record<string, Answer>;
  security?: Array<Record<string, string[]>>;
}

interface OpenApiShape {
  paths?: Record<string, Record<string, Operation> | undefined>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

/** API keys (auth.mode keys): as a bearer token, or in x-api-key as Anthropic's SDKs send it. */
const SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', description: 'An API key: Authorization: Bearer hgk_...' },
  apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same API key in x-api-key' },
};

/**
 * Adds the view components. The zod provider writes each registered schema twice, as read (`<id>Input`)
 * and as written; the views are only written, so an `Input` copy nothing refers to is left out.
 */
function addComponents(documents: Parameters<typeof jsonSchemaTransformObject>[0]): OpenApiShape {
  const openapi = jsonSchemaTransformObject(documents) as OpenApiShape;
  const schemas = openapi.components?.schemas ?? {};
  const text = JSON.stringify(openapi.paths ?? {});
  for (const name of Object.keys(schemas)) {
    if (name.endsWith('Input') && !text.includes(`"#/components/schemas/${name}"`)) delete schemas[name];
  }
  return openapi;
}

/** The document served at /openapi.json. */
export function finishOpenApiDocument(documents: Parameters<typeof jsonSchemaTransformObject>[0]): ReturnType<typeof jsonSchemaTransformObject> {
  const openapi = addComponents(documents);
  for (const [path, operations] of Object.entries(openapi.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations ?? {})) {
      const tooMany = operation.responses?.['429'];
      if (tooMany !== undefined) tooMany.headers = { ...tooMany.headers, 'Retry-After': RETRY_AFTER };
      if (OPTIONAL_BODIES.has(`${method} ${path}`) && operation.requestBody !== undefined) operation.requestBody.required = false;
      const errorContent = operation.responses?.['500']?.content;
      if (path.startsWith('/v1/') && errorContent !== undefined) {
        operation.security = [{ bearer: [] }, { apiKey: [] }];
        operation.responses!['401'] = { description: 'No API key, an invalid one or a revoked one (UNAUTHORIZED)', content: errorContent };
        const scope = requiredScope(method.toUpperCase(), path);
        const own = operation.responses!['403']?.description;
        const lacking = `the API key lacks the ${scope} scope (FORBIDDEN)`;
        operation.responses!['403'] = { description: own === undefined ? lacking.replace(/^t/, 'T') : `${own}; or ${lacking}`, content: errorContent };
      }
    }
  }
  openapi.components = { ...openapi.components, securitySchemes: SECURITY_SCHEMES };
  return openapi as ReturnType<typeof jsonSchemaTransformObject>;
}
