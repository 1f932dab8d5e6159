// Routes of sessions (long-running and hybrid), their messages, events (SSE with replay),
// schedules and forks. Shared sandboxes: sandbox-routes.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDependencies } from './dependencies.js';
import { callerOf, scopedToCaller } from './tenant-scope.js';
import { errors, json, noContent, storedEventStream } from './responses.js';
import { createSessionSchema, metadataSchema } from './schemas.js';
import { eventReplayQuery, sendStoredEvents } from './sse.js';
import {
  checkpointViewSchema,
  interruptAnswerSchema,
  presentCheckpoint,
  presentSession,
  scheduleViewSchema,
  SESSION_PATTERNS,
  SESSION_STATUSES,
  sessionListSchema,
  sessionMessageViewSchema,
  sessionViewSchema,
} from './views.js';

const idParams = z.object({ id: z.string().min(1).max(200) }).strict();

const sessionNotFound = 'No such session (SESSION_NOT_FOUND)';
const sessionClosed = 'The session is closed (SESSION_CLOSED)';
/** A session route: its path names one. */
const ofSession = { params: true } as const;
/** A session route that reads a body (any POST or DELETE). */
const ofSessionWithBody = { params: true, body: true } as const;

/** For routes whose body is optional: no body (or an empty one) is the empty object. */
export async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === null || request.body === undefined) request.body = {};
}

export function registerSessionRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { sessionManager, eventHub, config } = dependencies;

  routes.post(
    '/v1/sessions',
    {
      schema: {
        operationId: 'createSession',
        tags: ['sessions'],
        description: 'Create a session',
        body: createSessionSchema(config),
        response: {
          201: json('The session, created (its first message queued when a prompt was given)', sessionViewSchema),
          ...errors(
            { body: true },
            {
              403: "Beyond the tenant's policy (POLICY_VIOLATION, details.limit names the limit)",
              404: 'The shared sandbox named by sandboxId does not exist or is closed (SANDBOX_NOT_FOUND)',
              429: "No free sandbox for the initial files or the first message (CAPACITY_EXCEEDED: sandbox.maxLive, or the tenant's maxConcurrentSandboxes): retry after the seconds of Retry-After",
              500: 'Writing the initial files failed (SANDBOX_FAILED, CHECKPOINT_FAILED: the session is recorded as failed), or INTERNAL',
              503: 'No sandbox can be made for the initial files (SANDBOX_UNAVAILABLE)',
            },
          ),
        },
      },
    },
    async (request, reply) => reply.status(201).send(presentSession(await sessionManager.create(await scopedToCaller(dependencies, request, request.body)))),
  );

  routes.get(
    '/v1/sessions',
    {
      schema: {
        operationId: 'listSessions',
        tags: ['sessions'],
        description: 'List sessions, newest first',
        querystring: z
          .object({
            status: z.enum(SESSION_STATUSES).optional(),
            pattern: z.enum(SESSION_PATTERNS).optional(),
            metadata: z
              .string()
              .regex(/^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/, 'metadata filter is key=value[,key=value...]')
              .optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
            before: z.string().min(1).max(200).optional(),
          })
          .strict(),
        response: { 200: json('A page of sessions', sessionListSchema), ...errors({ query: true }) },
      },
    },
    async (request) => {
      const { metadata, ...rest } = request.query;
      const metadataFilter = metadata === undefined ? undefined : Object.fromEntries(metadata.split(',').map((pair) => pair.split('=', 2) as [string, string]));
      const sessions = await sessionManager.list({ ...rest, tenantId: callerOf(request).tenantId, ...(metadataFilter ? { metadata: metadataFilter } : {}) });
      return {
        sessions: sessions.map((session) => presentSession(session)),
        nextBefore: sessions.length === rest.limit ? (sessions.at(-1)?.id ?? null) : null,
      };
    },
  );

  routes.get(
    '/v1/sessions/:id',
    {
      schema: {
        operationId: 'getSession',
        tags: ['sessions'],
        description: 'Read a session (with its last checkpoint in full)',
        params: idParams,
        response: { 200: json('The session', sessionViewSchema), ...errors(ofSession, { 404: sessionNotFound }) },
      },
    },
    async (request) => {
      const session = await sessionManager.get(request.params.id);
      return presentSession(session, session.lastCheckpointId === null ? undefined : await sessionManager.checkpoint(session.lastCheckpointId));
    },
  );

  routes.delete(
    '/v1/sessions/:id',
    {
      schema: {
        operationId: 'closeSession',
        tags: ['sessions'],
        description: 'Close a session and free its sandbox',
        params: idParams,
        response: { 200: json('The session, closed', sessionViewSchema), ...errors(ofSessionWithBody, { 404: sessionNotFound }) },
      },
    },
    async (request) => presentSession(await sessionManager.close(request.params.id)),
  );

  routes.post(
    '/v1/sessions/:id/messages',
    {
      schema: {
        operationId: 'sendMessage',
        tags: ['sessions'],
        description: 'Queue a message; turns run one at a time, in order',
        params: idParams,
        body: z.object({ prompt: z.string().trim().min(1).max(config.agent.maxPromptChars) }).strict(),
        response: {
          202: json('The message, queued', sessionMessageViewSchema),
          ...errors(ofSessionWithBody, {
            402: 'The session spent its maxBudgetUsd (BUDGET_EXCEEDED; details: { costUsd, maxBudgetUsd })',
            403: "The session's options are beyond its tenant's policy as it is now (POLICY_VIOLATION, details.limit)",
            404: sessionNotFound,
            409: sessionClosed,
            429: 'The session needs a sandbox and none is free (CAPACITY_EXCEEDED): retry after the seconds of Retry-After',
          }),
        },
      },
    },
    async (request, reply) => reply.status(202).send(await sessionManager.send(request.params.id, request.body.prompt)),
  );

  routes.get(
    '/v1/sessions/:id/messages',
    {
      schema: {
        operationId: 'listMessages',
        tags: ['sessions'],
        description: "The session's messages, in order",
        params: idParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict(),
        response: { 200: json('Its messages', z.object({ messages: z.array(sessionMessageViewSchema) })), ...errors(ofSession, { 404: sessionNotFound }) },
      },
    },
    async (request) => ({ messages: await sessionManager.messages(request.params.id, request.query.limit) }),
  );

  routes.get(
    '/v1/sessions/:id/checkpoints',
    {
      schema: {
        operationId: 'listCheckpoints',
        tags: ['sessions'],
        description: "The session's checkpoints, newest first",
        params: idParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) }).strict(),
        response: { 200: json('Its checkpoints', z.object({ checkpoints: z.array(checkpointViewSchema) })), ...errors(ofSession, { 404: sessionNotFound }) },
      },
    },
    async (request) => ({ checkpoints: (await sessionManager.checkpoints(request.params.id, request.query.limit)).map(presentCheckpoint) }),
  );

  routes.post(
    '/v1/sessions/:id/fork',
    {
      preValidation: emptyBodyAsObject,
      schema: {
        operationId: 'forkSession',
        tags: ['sessions'],
        description: 'New session from a checkpoint: workspace and transcript copied, the original untouched (the body is optional)',
        params: idParams,
        body: z
          .object({ checkpointId: z.string().min(1).max(200).optional(), metadata: metadataSchema.optional() })
          .strict()
          .default({}),
        response: {
          201: json('The new session', sessionViewSchema),
          ...errors(ofSessionWithBody, {
            403: "The session's options are beyond its tenant's policy as it is now (POLICY_VIOLATION, details.limit)",
            404: 'No such session (SESSION_NOT_FOUND), or the checkpoint is not one of its own (CHECKPOINT_NOT_FOUND)',
            409: 'The session is closed (SESSION_CLOSED) or has no checkpoint yet (NO_CHECKPOINT)',
          }),
        },
      },
    },
    async (request, reply) => reply.status(201).send(presentSession(await sessionManager.fork(request.params.id, request.body))),
  );

  routes.post(
    '/v1/sessions/:id/interrupt',
    {
      schema: {
        operationId: 'interruptSession',
        tags: ['sessions'],
        description: 'Stop the running turn',
        params: idParams,
        response: {
          200: json('Whether a turn was running and was asked to stop', interruptAnswerSchema),
          ...errors(ofSessionWithBody, { 404: sessionNotFound, 409: sessionClosed }),
        },
      },
    },
    async (request) => sessionManager.interrupt(request.params.id),
  );

  routes.post(
    '/v1/sessions/:id/hibernate',
    {
      schema: {
        operationId: 'hibernateSession',
        tags: ['sessions'],
        description: 'Checkpoint and hibernate an idle session now',
        params: idParams,
        response: {
          200: json('The session (hibernated, or as it was when it is not idle)', sessionViewSchema),
          ...errors(ofSessionWithBody, { 404: sessionNotFound, 409: sessionClosed }),
        },
      },
    },
    async (request) => presentSession(await sessionManager.hibernate(request.params.id)),
  );

  routes.post(
    '/v1/sessions/:id/schedules',
    {
      schema: {
        operationId: 'addSchedule',
        tags: ['sessions'],
        description: 'Send a prompt on a schedule; runs never overlap a running turn',
        params: idParams,
        body: z
          .object({
            every: z.string().min(2).max(20).optional().describe('Interval: 30s, 5m, 2h, 1d'),
            cron: z.string().min(9).max(200).optional().describe('Five-field cron expression'),
            prompt: z.string().trim().min(1).max(config.agent.maxPromptChars),
          })
          .strict(),
        response: {
          201: json('The schedule', scheduleViewSchema),
          ...errors(ofSessionWithBody, {
            400: 'Invalid request, or not exactly one of every and cron, or an interval or cron expression that does not parse (VALIDATION_FAILED)',
            404: sessionNotFound,
            409: sessionClosed,
          }),
        },
      },
    },
    async (request, reply) => reply.status(201).send(await sessionManager.addSchedule(request.params.id, request.body)),
  );

  routes.get(
    '/v1/sessions/:id/schedules',
    {
      schema: {
        operationId: 'listSchedules',
        tags: ['sessions'],
        description: "The session's schedules, oldest first",
        params: idParams,
        response: { 200: json('Its schedules', z.object({ schedules: z.array(scheduleViewSchema) })), ...errors(ofSession, { 404: sessionNotFound }) },
      },
    },
    async (request) => ({ schedules: await sessionManager.schedules(request.params.id) }),
  );

  routes.delete(
    '/v1/sessions/:id/schedules/:scheduleId',
    {
      schema: {
        operationId: 'removeSchedule',
        tags: ['sessions'],
        description: 'Remove a schedule',
        params: z.object({ id: z.string().min(1).max(200), scheduleId: z.string().min(1).max(200) }).strict(),
        response: { 204: noContent('Removed'), ...errors(ofSessionWithBody, { 404: 'The session has no such schedule (SCHEDULE_NOT_FOUND)' }) },
      },
    },
    async (request, reply) => {
      await sessionManager.removeSchedule(request.params.id, request.params.scheduleId);
      return reply.status(204).send();
    },
  );

  routes.get(
    '/v1/sessions/:id/events',
    {
      schema: {
        operationId: 'followSessionEvents',
        tags: ['sessions'],
        description: 'Server-sent events of the session: replay from Last-Event-ID / ?after=N, then live',
        params: idParams,
        querystring: eventReplayQuery,
        response: {
          200: storedEventStream(
            "The session's events, in order",
            'Types: sdk (an SDK message) and lifecycle events: session_created, message_queued, status, turn_started, turn_completed, turn_failed, ' +
              'turn_interrupted, interrupt_requested, checkpoint, checkpoint_failed, checkpoint_corrupt, hibernated, woke, sandbox_restored, forked, ' +
              'schedule_added, schedule_skipped, warning, closed. The stream ends once the session is closed or failed with nothing left to run ' +
              '(or, with follow=false, once what is stored was sent).',
          ),
          ...errors(ofSession, { 404: sessionNotFound }),
        },
      },
    },
    async (request, reply) => {
      const sessionId = request.params.id;
      await sessionManager.get(sessionId);
      await sendStoredEvents(request, reply, { events: eventHub, streamId: sessionId, finished: () => sessionManager.isQuiescent(sessionId), kind: 'session' });
    },
  );
}
