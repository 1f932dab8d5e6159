// Routes of ephemeral tasks: POST /v1/tasks runs one (JSON answer, SSE stream, or 202 and follow),
// GET /v1/tasks/:id and GET /v1/tasks read them back, GET /v1/tasks/:id/events follows one (SSE with
// replay), POST /v1/tasks/:id/cancel and DELETE /v1/tasks/:id cancel one.
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PERMISSION_MODES } from '../runner/agent-runner.js';
import { TASK_EVENT } from '../tasks/task-events.js';
import { presentTask, TASK_STATUSES } from '../tasks/task-view.js';
import type { TaskRecord } from '../store/store.js';
import { allowedToolsSchema, disallowedToolsSchema, filesFitDisk, resourcesSchema, workspaceFilesSchema } from './schemas.js';
import type { ApiDependencies } from './dependencies.js';
import { openEventStream } from './sse.js';

export function taskRequestSchema(config: ApiDependencies['config']) {
  return z
    .object({
      prompt: z.string().trim().min(1).max(config.agent.maxPromptChars).describe('What the agent should do'),
      allowedTools: allowedToolsSchema.optional().describe('Tool names or Claude Code permission rules ("Bash(npm test:*)", "Read(./src/**)"), each pre-approved; the agent has the tools they name and no others; default from the configuration'),
      disallowedTools: disallowedToolsSchema.optional(),
      maxTurns: z.number().int().min(1).max(1000).optional().describe('Most agent turns before the task stops'),
      permissionMode: z.enum(PERMISSION_MODES).optional().describe('Claude Code permission mode; default dontAsk (only allowedTools)'),
      appendSystemPrompt: z.string().max(100_000).optional().describe('Text appended to the Claude Code system prompt'),
      model: z.string().min(1).max(200).optional().describe('Model id the CLI asks for'),
      resources: resourcesSchema(config).optional().describe('Sandbox limits; defaults from the configuration'),
      files: workspaceFilesSchema.optional().describe('Initial workspace files: relative path -> UTF-8 content'),
      stream: z.boolean().optional().describe('Answer with an SSE stream of the SDK messages, then the task'),
      wait: z.boolean().optional().describe('false: answer 202 at once and run in the background (follow GET /v1/tasks/:id/events or poll GET /v1/tasks/:id)'),
    })
    .strict()
    .superRefine(filesFitDisk(config));
}

const taskIdParams = z.object({ id: z.string().min(1).max(200) }).strict();
const listQuery = z
  .object({
    status: z.enum(TASK_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    before: z.string().min(1).max(200).optional(),
  })
  .strict();

export { presentTask };

export function registerTaskRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { taskService } = dependencies;

  routes.post(
    '/v1/tasks',
    { schema: { body: taskRequestSchema(dependencies.config), description: 'Run an ephemeral task in a fresh sandbox' } },
    async (request, reply) => {
      const { stream: streamed, wait, ...input } = request.body;
      if (streamed === true) {
        // A full host answers 429 before the stream opens (sandbox.maxLive).
        dependencies.admission?.assertRoom('a new task');
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
          send('result', presentTask(task));
        } catch (error) {
          const { code, message } = error instanceof Error && 'code' in error ? (error as { code: string; message: string }) : { code: 'INTERNAL', message: 'task failed' };
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
        return reply.status(202).send(presentTask(created));
      }
      const task = await taskService.run(input);
      return reply.status(200).send(presentTask(task));
    },
  );

  routes.get('/v1/tasks/:id', { schema: { params: taskIdParams, description: 'Read a task' } }, async (request) => {
    return presentTask(await taskService.get(request.params.id));
  });

  const cancel = async (id: string): Promise<Record<string, unknown>> => presentTask(await taskService.cancel(id));
  const cancelDescription = 'Cancel a running task: its processes are killed, its sandbox destroyed; answers the record (status cancelled). 409 TASK_NOT_RUNNING when it already finished';
  routes.post('/v1/tasks/:id/cancel', { schema: { params: taskIdParams, description: cancelDescription } }, async (request) => cancel(request.params.id));
  routes.delete('/v1/tasks/:id', { schema: { params: taskIdParams, description: cancelDescription } }, async (request) => cancel(request.params.id));

  routes.get(
    '/v1/tasks/:id/events',
    {
      schema: {
        params: taskIdParams,
        querystring: z
          .object({
            after: z.coerce.number().int().min(0).optional().describe('Replay events after this sequence number (or send Last-Event-ID)'),
            follow: z.enum(['true', 'false']).default('true').describe('false: replay what is stored and end'),
          })
          .strict(),
        description: 'Server-sent events of a task (task_created, task_started, sdk, task_stopping, task_finished): replay from Last-Event-ID / ?after=N, then live until task_finished',
      },
    },
    async (request, reply) => {
      const taskId = request.params.id;
      await taskService.get(taskId);
      const lastEventId = request.headers['last-event-id'];
      const fromHeader = typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
      const after = fromHeader ?? request.query.after ?? 0;
      const follow = request.query.follow === 'true';
      const stream = openEventStream(reply);
      try {
        for await (const event of dependencies.eventHub.follow(taskId, { after, signal: stream.signal, isFinished: async () => !follow || !taskService.isRunning(taskId) })) {
          if (stream.closed) break;
          await stream.send(event.seq, event.type, { seq: event.seq, type: event.type, createdAt: event.createdAt, data: event.data });
          if (event.type === TASK_EVENT.finished) break;
        }
      } catch (error) {
        request.log.warn({ err: error, taskId }, 'task event stream ended with an error');
      } finally {
        stream.end();
      }
    },
  );

  routes.get('/v1/tasks', { schema: { querystring: listQuery, description: 'List tasks, newest first' } }, async (request) => {
    const tasks = await taskService.list(request.query);
    return { tasks: tasks.map(presentTask), nextBefore: tasks.length === request.query.limit ? tasks.at(-1)?.id ?? null : null };
  });
}
