// The request bodies that start an agent, a task's and a session's: each is the agent options'
// schema (runner/agent-options.ts, shared with the services) extended with its own fields, and the
// client's request types are inferred from them.
import { z } from 'zod';
import type { HangarConfig } from '../config/config.js';
import { agentOptionsSchema, filesFitDisk } from '../runner/agent-options.js';
import { SESSION_PATTERNS } from './views.js';

export { resourcesSchema } from '../runner/agent-options.js';

/** Free-form string labels of a session. */
export const metadataSchema = z
  .record(z.string().min(1).max(100), z.string().max(1000))
  .refine((value) => Object.keys(value).length <= 50, 'at most 50 metadata keys');

/** POST /v1/tasks: a prompt, the agent options, and how to answer. */
export function taskRequestSchema(config: HangarConfig) {
  return agentOptionsSchema(config)
    .extend({
      prompt: z.string().trim().min(1).max(config.agent.maxPromptChars).describe('What the agent should do'),
      stream: z.boolean().optional().describe('Answer with an SSE stream of the SDK messages, then the task'),
      wait: z.boolean().optional().describe('false: answer 202 at once and run in the background (follow GET /v1/tasks/:id/events or poll GET /v1/tasks/:id)'),
    })
    .strict()
    .superRefine(filesFitDisk(config));
}

/** POST /v1/sessions: a pattern, the agent options, and what a session has beyond a task. */
export function createSessionSchema(config: HangarConfig) {
  return agentOptionsSchema(config)
    .extend({
      pattern: z.enum(SESSION_PATTERNS).describe('long-running: the CLI stays up between messages; hybrid: a fresh sandbox per message'),
      prompt: z.string().trim().min(1).max(config.agent.maxPromptChars).optional().describe('First message, queued at once'),
      idleTimeoutSec: z
        .number()
        .int()
        .min(1)
        .max(7 * 86_400)
        .optional()
        .describe('Idle seconds before a long-running session hibernates'),
      metadata: metadataSchema.optional(),
      sandboxId: z.string().min(1).max(200).optional().describe('Run inside this shared sandbox (POST /v1/sandboxes)'),
    })
    .strict()
    .superRefine((body, context) => {
      // A shared sandbox has its own disk: the service checks files against it.
      if (body.sandboxId === undefined) filesFitDisk(config)(body, context);
    });
}

/** A task request as a client sends it. */
export type TaskRequestBody = z.input<ReturnType<typeof taskRequestSchema>>;
/** A session request as a client sends it. */
export type CreateSessionBody = z.input<ReturnType<typeof createSessionSchema>>;
