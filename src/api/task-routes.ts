// Routes of ephemeral tasks: POST /v1/tasks runs one (JSON answer, SSE stream, or 202 and follow),
// GET /v1/tasks/:id and GET /v1/tasks read them back, GET /v1/tasks/:id/events follows one (SSE with
// replay), POST /v1/tasks/:id/cancel and DELETE /v1/tasks/:id cancel one.
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TASK_EVENT } from '../tasks/task-events.js';
import { TASK_STATUSES } from '../tasks/task-view.js';
import type { TaskRecord } from '../store/store.js';
import { tenantShareOf } from '../tenants/tenant-share.js';
import type { ApiDependencies } from './dependencies.js';
import { callerOf, scopedToCaller } from './tenant-scope.js';
import { errors, eventStreamSchema, json, storedEventStream } from './responses.js';
import { taskRequestSchema } from './schemas.js';
import { eventReplayQuery, openEventStream, sendStoredEvents } from './sse.js';
import { presentTaskView, taskListSchema, taskViewSchema } from './views.js';

const taskIdParams = z.object({ id: z.string().min(1).max(200) }).strict();
const listQuery = z
  .object({
    status: z.enum(TASK_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    before: z.string().min(1).max(200).optional(),
  })
  .strict();

const taskNotFound = 'No such task (TASK_NOT_FOUND)';

export function registerTaskRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { taskService } = dependencies;

  routes.post(
    '/v1/tasks',
    {
      schema: {
        operationId: 'runTask',
        tags: ['tasks'],
        description: 'Run an ephemeral task in a fresh sandbox',
        body: taskRequestSchema(dependencies.config),
        response: {
          200: {
            description: 'The task ran: its final record; with stream: true, a stream of it running',
            content: {
              'application/json': { schema: taskViewSchema },
              'text/event-stream': {
                schema: eventStreamSchema(
                  'Events: `task` ({ id, status }: the task is recorded), `message` (each SDK message, as the Agent SDK types it), `result` (the final Task), ' +
                    '`error` ({ error: { code, message } }: the task could not run). The stream ends after result or error.',
                ),
              },
            },
          },
          202: json('wait: false: the task runs in the background; its record as created (follow GET /v1/tasks/{id}/events)', taskViewSchema),
          ...errors(
            { body: true },
            {
              403: "Beyond the tenant's policy (POLICY_VIOLATION, details.limit names the limit)",
              429: "No free sandbox (CAPACITY_EXCEEDED: sandbox.maxLive, or the tenant's maxConcurrentSandboxes): retry after the seconds of Retry-After",
              503: 'The server is shutting down and takes no new tasks (SANDBOX_UNAVAILABLE)',
            },
          ),
        },
      },
    },
    async (request, reply) => {
      const { stream: streamed, wait, ...body } = request.body;
      // The caller's tenant, and its policy: 403 beyond it, before anything is created.
      const input = await scopedToCaller(dependencies, request, body);
      if (streamed === true) {
        // A full host, or a tenant at its ceiling, answers 429 before the stream opens.
        dependencies.admission?.assertRoom('a new task', await tenantShareOf(dependencies.tenants, input.tenantId));
        // Server-sent events: `task` (created), `message` (each SDK message), `result` (final task).
        const stream = openEventStream(reply);
        let sequence = 0;
        const send = (event: string, data: unknown): void => {
          sequence += 1;
          void stream.send(sequence, event, data);
        };
        try {
          const task = await taskService.run(input, {
            onCreated: (created) => send('task', { id: created.id, status: created.status }),
            onMessage: (message: SDKMessage) => send('message', message),
          });
          send('result', presentTaskView(task));
        } catch (error) {
          const { code, message } =
            error instanceof Error && 'code' in error ? (error as { code: string; message: string }) : { code: 'INTERNAL', message: 'task failed' };
          send('error', { error: { code, message } });
        } finally {
          stream.end();
        }
        return;
      }
      if (wait === false) {
        const created = await new Promise<TaskRecord>((resolve, reject) => {
          taskService.run(input, { onCreated: resolve }).catch(reject);
        });
        return reply.status(202).send(presentTaskView(created));
      }
      const task = await taskService.run(input);
      return reply.status(200).send(presentTaskView(task));
    },
  );

  routes.get(
    '/v1/tasks/:id',
    {
      schema: {
        operationId: 'getTask',
        tags: ['tasks'],
        description: 'Read a task',
        params: taskIdParams,
        response: { 200: json('The task', taskViewSchema), ...errors({ params: true }, { 404: taskNotFound }) },
      },
    },
    async (request) => presentTaskView(await taskService.get(request.params.id)),
  );

  const cancelSchema = (operationId: string) => ({
    operationId,
    tags: ['tasks'],
    description:
      'Cancel a running task: its processes are killed, its sandbox destroyed; answers the record (status cancelled). 409 TASK_NOT_RUNNING when it already finished',
    params: taskIdParams,
    response: {
      200: json('The cancelled task', taskViewSchema),
      ...errors(
        { params: true, body: true },
        { 404: taskNotFound, 409: 'The task is not running (TASK_NOT_RUNNING): it already finished, or runs in another server' },
      ),
    },
  });
  routes.post('/v1/tasks/:id/cancel', { schema: cancelSchema('cancelTask') }, async (request) => presentTaskView(await taskService.cancel(request.params.id)));
  routes.delete('/v1/tasks/:id', { schema: cancelSchema('deleteTask') }, async (request) => presentTaskView(await taskService.cancel(request.params.id)));

  routes.get(
    '/v1/tasks/:id/events',
    {
      schema: {
        operationId: 'followTaskEvents',
        tags: ['tasks'],
        description: 'Server-sent events of a task: replay from Last-Event-ID / ?after=N, then live until task_finished',
        params: taskIdParams,
        querystring: eventReplayQuery,
        response: {
          200: storedEventStream(
            "The task's events, in order",
            'Types: task_created ({ task: Task }), task_started ({ sandboxId }), sdk (an SDK message), task_stopping ({ reason: cancelled | shutdown | timeout }), ' +
              'task_finished ({ task: Task }, the last event).',
          ),
          ...errors({ params: true }, { 404: taskNotFound }),
        },
      },
    },
    async (request, reply) => {
      const taskId = request.params.id;
      await taskService.get(taskId);
      await sendStoredEvents(request, reply, {
        events: dependencies.eventHub,
        streamId: taskId,
        finished: async () => !taskService.isRunning(taskId),
        isLast: (type) => type === TASK_EVENT.finished,
        kind: 'task',
      });
    },
  );

  routes.get(
    '/v1/tasks',
    {
      schema: {
        operationId: 'listTasks',
        tags: ['tasks'],
        description: 'List tasks, newest first',
        querystring: listQuery,
        response: { 200: json('A page of tasks', taskListSchema), ...errors({ query: true }) },
      },
    },
    async (request) => {
      const tasks = await taskService.list({ ...request.query, tenantId: callerOf(request).tenantId });
      return { tasks: tasks.map(presentTaskView), nextBefore: tasks.length === request.query.limit ? (tasks.at(-1)?.id ?? null) : null };
    },
  );
}
