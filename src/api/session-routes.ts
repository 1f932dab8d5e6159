// Routes of sessions (long-running and hybrid), their messages, events (SSE with replay),
// schedules, forks, and shared sandboxes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PERMISSION_MODES } from '../runner/agent-runner.js';
import type { CheckpointRecord, QueuedMessage, SessionRecord } from '../store/store.js';
import { allowedToolsSchema, disallowedToolsSchema, filesFitDisk, metadataSchema, resourcesSchema, workspaceFilesSchema } from './schemas.js';
import type { ApiDependencies } from './dependencies.js';
import { openEventStream } from './sse.js';

const SESSION_STATUSES = ['running', 'idle', 'hibernated', 'failed', 'closed'] as const;
const idParams = z.object({ id: z.string().min(1).max(200) }).strict();

/** For routes whose body is optional: no body (or an empty one) is the empty object. */
async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === null || request.body === undefined) request.body = {};
}

function createSessionSchema(config: ApiDependencies['config']) {
  return z
    .object({
      pattern: z.enum(['long-running', 'hybrid']).describe('long-running: the CLI stays up between messages; hybrid: a fresh sandbox per message'),
      prompt: z.string().trim().min(1).max(config.agent.maxPromptChars).optional().describe('First message, queued at once'),
      allowedTools: allowedToolsSchema.optional(),
      disallowedTools: disallowedToolsSchema.optional(),
      maxTurns: z.number().int().min(1).max(1000).optional().describe('Agent turns per message'),
      maxBudgetUsd: z.number().positive().max(1_000_000).optional().describe('The session stops taking turns once it has spent this much'),
      permissionMode: z.enum(PERMISSION_MODES).optional(),
      appendSystemPrompt: z.string().max(100_000).optional(),
      model: z.string().min(1).max(200).optional(),
      resources: resourcesSchema(config).optional(),
      idleTimeoutSec: z.number().int().min(1).max(7 * 86_400).optional().describe('Idle seconds before a long-running session hibernates'),
      files: workspaceFilesSchema.optional().describe('Initial workspace files'),
      metadata: metadataSchema.optional(),
      sandboxId: z.string().min(1).max(200).optional().describe('Run inside this shared sandbox (POST /v1/sandboxes)'),
    })
    .strict()
    .superRefine((body, context) => {
      // A shared sandbox has its own disk: the service checks files against it.
      if (body.sandboxId === undefined) filesFitDisk(config)(body, context);
    });
}

/** The public view of a session. */
export function presentSession(session: SessionRecord, checkpoint?: CheckpointRecord): Record<string, unknown> {
  return {
    id: session.id,
    pattern: session.pattern,
    status: session.status,
    options: session.options,
    metadata: session.metadata,
    sandboxId: session.sandboxId,
    agentSessionId: session.agentSessionId,
    forkedFrom: session.forkedFrom,
    turns: session.turns,
    usage: session.usage,
    usageByModel: session.usageByModel,
    costUsd: session.costUsd,
    context: {
      tokens: session.contextTokens,
      window: session.contextWindow,
      ratio: session.contextWindow ? session.contextTokens / session.contextWindow : null,
    },
    checkpoint:
      session.lastCheckpointId === null
        ? null
        : checkpoint === undefined
          ? { id: session.lastCheckpointId }
          : { id: checkpoint.id, turn: checkpoint.turn, sizeBytes: checkpoint.sizeBytes, transcriptEntries: checkpoint.transcriptEntries, createdAt: checkpoint.createdAt },
    error: session.error,
    createdAt: session.createdAt,
    updatedAt: session.updatedAt,
    lastActivityAt: session.lastActivityAt,
  };
}

function presentMessage(message: QueuedMessage): Record<string, unknown> {
  return { ...message };
}

function presentCheckpoint(checkpoint: CheckpointRecord): Record<string, unknown> {
  const { blobKey: _blobKey, ...rest } = checkpoint;
  return rest;
}

export function registerSessionRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { sessionManager, eventHub, config } = dependencies;

  routes.post('/v1/sessions', { schema: { body: createSessionSchema(config), description: 'Create a session' } }, async (request, reply) => {
    return reply.status(201).send(presentSession(await sessionManager.create(request.body)));
  });

  routes.get(
    '/v1/sessions',
    {
      schema: {
        querystring: z
          .object({
            status: z.enum(SESSION_STATUSES).optional(),
            pattern: z.enum(['long-running', 'hybrid']).optional(),
            metadata: z
              .string()
              .regex(/^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/, 'metadata filter is key=value[,key=value...]')
              .optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
            before: z.string().min(1).max(200).optional(),
          })
          .strict(),
        description: 'List sessions, newest first',
      },
    },
    async (request) => {
      const { metadata, ...rest } = request.query;
      const metadataFilter = metadata === undefined ? undefined : Object.fromEntries(metadata.split(',').map((pair) => pair.split('=', 2) as [string, string]));
      const sessions = await sessionManager.list({ ...rest, ...(metadataFilter ? { metadata: metadataFilter } : {}) });
      return { sessions: sessions.map((session) => presentSession(session)), nextBefore: sessions.length === rest.limit ? sessions.at(-1)?.id ?? null : null };
    },
  );

  routes.get('/v1/sessions/:id', { schema: { params: idParams, description: 'Read a session' } }, async (request) => {
    const session = await sessionManager.get(request.params.id);
    return presentSession(session, session.lastCheckpointId === null ? undefined : await sessionManager.checkpoint(session.lastCheckpointId));
  });

  routes.delete('/v1/sessions/:id', { schema: { params: idParams, description: 'Close a session and free its sandbox' } }, async (request) =>
    presentSession(await sessionManager.close(request.params.id)),
  );

  routes.post(
    '/v1/sessions/:id/messages',
    {
      schema: {
        params: idParams,
        body: z.object({ prompt: z.string().trim().min(1).max(config.agent.maxPromptChars) }).strict(),
        description: 'Queue a message; turns run one at a time, in order',
      },
    },
    async (request, reply) => reply.status(202).send(presentMessage(await sessionManager.send(request.params.id, request.body.prompt))),
  );

  routes.get(
    '/v1/sessions/:id/messages',
    { schema: { params: idParams, querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict() } },
    async (request) => ({ messages: (await sessionManager.messages(request.params.id, request.query.limit)).map(presentMessage) }),
  );

  routes.get(
    '/v1/sessions/:id/checkpoints',
    { schema: { params: idParams, querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) }).strict() } },
    async (request) => ({ checkpoints: (await sessionManager.checkpoints(request.params.id, request.query.limit)).map(presentCheckpoint) }),
  );

  routes.post(
    '/v1/sessions/:id/fork',
    {
      preValidation: emptyBodyAsObject,
      schema: {
        params: idParams,
        body: z
          .object({ checkpointId: z.string().min(1).max(200).optional(), metadata: metadataSchema.optional() })
          .strict()
          .default({}),
        description: 'New session from a checkpoint: workspace and transcript copied, the original untouched (the body is optional)',
      },
    },
    async (request, reply) => reply.status(201).send(presentSession(await sessionManager.fork(request.params.id, request.body))),
  );

  routes.post('/v1/sessions/:id/interrupt', { schema: { params: idParams, description: 'Stop the running turn' } }, async (request) =>
    sessionManager.interrupt(request.params.id),
  );

  routes.post('/v1/sessions/:id/hibernate', { schema: { params: idParams, description: 'Checkpoint and hibernate an idle session now' } }, async (request) =>
    presentSession(await sessionManager.hibernate(request.params.id)),
  );

  routes.post(
    '/v1/sessions/:id/schedules',
    {
      schema: {
        params: idParams,
        body: z
          .object({
            every: z.string().min(2).max(20).optional().describe('Interval: 30s, 5m, 2h, 1d'),
            cron: z.string().min(9).max(200).optional().describe('Five-field cron expression'),
            prompt: z.string().trim().min(1).max(config.agent.maxPromptChars),
          })
          .strict(),
        description: 'Send a prompt on a schedule; runs never overlap a running turn',
      },
    },
    async (request, reply) => reply.status(201).send(await sessionManager.addSchedule(request.params.id, request.body)),
  );

  routes.get('/v1/sessions/:id/schedules', { schema: { params: idParams } }, async (request) => ({ schedules: await sessionManager.schedules(request.params.id) }));

  routes.delete(
    '/v1/sessions/:id/schedules/:scheduleId',
    { schema: { params: z.object({ id: z.string().min(1).max(200), scheduleId: z.string().min(1).max(200) }).strict() } },
    async (request, reply) => {
      await sessionManager.removeSchedule(request.params.id, request.params.scheduleId);
      return reply.status(204).send();
    },
  );

  routes.get(
    '/v1/sessions/:id/events',
    {
      schema: {
        params: idParams,
        querystring: z
          .object({
            after: z.coerce.number().int().min(0).optional().describe('Replay events after this sequence number (or send Last-Event-ID)'),
            follow: z.enum(['true', 'false']).default('true').describe('false: replay what is stored and end'),
          })
          .strict(),
        description: 'Server-sent events of the session: replay from Last-Event-ID / ?after=N, then live',
      },
    },
    async (request, reply) => {
      await sessionManager.get(request.params.id);
      const lastEventId = request.headers['last-event-id'];
      const fromHeader = typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
      const after = fromHeader ?? request.query.after ?? 0;
      const follow = request.query.follow === 'true';
      const stream = openEventStream(reply);
      const sessionId = request.params.id;
      try {
        for await (const event of eventHub.follow(sessionId, {
          after,
          signal: stream.signal,
          isFinished: async () => !follow || (await sessionManager.isQuiescent(sessionId)),
        })) {
          if (stream.closed) break;
          await stream.send(event.seq, event.type, { seq: event.seq, type: event.type, createdAt: event.createdAt, data: event.data });
        }
      } catch (error) {
        request.log.warn({ err: error, sessionId }, 'event stream ended with an error');
      } finally {
        stream.end();
      }
    },
  );

  routes.post(
    '/v1/sandboxes',
    {
      preValidation: emptyBodyAsObject,
      schema: { body: z.object({ resources: resourcesSchema(config).optional() }).strict().default({}), description: 'Create a sandbox shared by several sessions (the body is optional)' },
    },
    async (request, reply) => reply.status(201).send(await sessionManager.createSharedSandbox(request.body)),
  );
  routes.get(
    '/v1/sandboxes',
    {
      schema: {
        querystring: z.object({ status: z.enum(['active', 'closed']).optional().describe('Only sandboxes in this status') }).strict(),
        description: 'List shared sandboxes, oldest first, with the sessions in each',
      },
    },
    async (request) => ({ sandboxes: await sessionManager.listSharedSandboxes(request.query.status) }),
  );
  routes.get('/v1/sandboxes/:id', { schema: { params: idParams } }, async (request) => sessionManager.getSharedSandbox(request.params.id));
  routes.delete('/v1/sandboxes/:id', { schema: { params: idParams, description: 'Close the sandbox and every session in it' } }, async (request) =>
    sessionManager.closeSharedSandbox(request.params.id),
  );
}
