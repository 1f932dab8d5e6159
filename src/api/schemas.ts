// Request schema pieces shared by the task and session routes.
import { z } from 'zod';
import type { HangarConfig } from '../config/config.js';
import { permissionRuleProblem } from '../runner/permission-rules.js';
import { describeWorkspaceFileProblem, workspaceFileProblems, workspaceFilesDiskProblem } from '../sessions/workspace-files.js';

/** Sandbox limits a request may ask for, bounded by the configured maximum. */
export function resourcesSchema(config: HangarConfig) {
  const maximum = config.sandbox.maximum;
  return z
    .object({
      memoryMb: z.number().int().min(64).max(maximum.memoryMb).optional(),
      cpus: z.number().min(0.05).max(maximum.cpus).optional(),
      diskMb: z.number().int().min(8).max(maximum.diskMb).optional(),
      pids: z.number().int().min(32).max(maximum.pids).optional().describe('Most processes (and threads) in the sandbox'),
    })
    .strict();
}

/** One tool name or Claude Code permission rule: `Bash`, `Bash(npm test:*)`, `Read(./src/**)`. */
const permissionRuleSchema = z.string().superRefine((rule, context) => {
  const problem = permissionRuleProblem(rule);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

/** Tools the agent may use, each pre-approved: names or permission rules (a rule approves only what it matches). */
export const allowedToolsSchema = z
  .array(permissionRuleSchema)
  .max(64)
  .describe('Tool names or Claude Code permission rules, each pre-approved: "Bash", "Bash(npm test:*)", "Read(./src/**)". The agent has the tools they name and no others');

/** Tools the agent may never use: names or permission rules. */
export const disallowedToolsSchema = z
  .array(permissionRuleSchema)
  .max(64)
  .describe('Tool names or Claude Code permission rules the agent may never use: "WebFetch", "Bash(rm:*)"');

/**
 * Initial workspace files: relative path -> UTF-8 content. Paths are checked here (workspace-files.ts);
 * whether they fit the disk, by filesFitDisk on the whole body (and by the service, for shared sandboxes).
 */
export const workspaceFilesSchema = z
  .record(z.string().min(1).max(1024), z.string())
  .refine((files) => Object.keys(files).length <= 10_000, 'at most 10000 files')
  .superRefine((files, context) => {
    for (const problem of workspaceFileProblems(files)) context.addIssue({ code: 'custom', message: describeWorkspaceFileProblem(problem) });
  });

/**
 * Object-level check of a task or session body: its files fit the disk its sandbox will have
 * (resources.diskMb, or the configured default). A session in a shared sandbox is checked by the service.
 */
export function filesFitDisk(config: HangarConfig) {
  return (body: { files?: Record<string, string> | undefined; resources?: { diskMb?: number | undefined } | undefined }, context: z.RefinementCtx): void => {
    if (body.files === undefined) return;
    const problem = workspaceFilesDiskProblem(body.files, body.resources?.diskMb ?? config.sandbox.defaults.diskMb);
    if (problem !== undefined) context.addIssue({ code: 'custom', path: ['files'], message: problem });
  };
}

/** Free-form string labels of a session. */
export const metadataSchema = z
  .record(z.string().min(1).max(100), z.string().max(1000))
  .refine((value) => Object.keys(value).length <= 50, 'at most 50 metadata keys');
