// The `agent` section of the configuration: what a task's agent gets when its request names
// nothing, its time limit, and what reporting the files it changed may cost.
import { z } from 'zod';

const FILE_COLLECTION_DEFAULTS = {
  maxEntries: 50_000,
  contentLimitBytes: 1024 * 1024,
  readBudgetBytes: 64 * 1024 * 1024,
  returnedContentBytes: 8 * 1024 * 1024,
};

const fileCollectionSchema = z
  .object({
    maxEntries: z
      .number()
      .int()
      .positive()
      .max(1_000_000)
      .default(FILE_COLLECTION_DEFAULTS.maxEntries)
      .describe("Most workspace directory entries (files, directories, links...) examined per scan; beyond it the task's file list is truncated"),
    contentLimitBytes: z
      .number()
      .int()
      .min(0)
      .default(FILE_COLLECTION_DEFAULTS.contentLimitBytes)
      .describe('Largest file compared by content and returned with it; larger files are compared by size, mtime, ctime and inode'),
    readBudgetBytes: z
      .number()
      .int()
      .min(0)
      .default(FILE_COLLECTION_DEFAULTS.readBudgetBytes)
      .describe("Bytes Hangar reads from a task's workspace to hash and return files, before and after the run together"),
    returnedContentBytes: z
      .number()
      .int()
      .min(0)
      .default(FILE_COLLECTION_DEFAULTS.returnedContentBytes)
      .describe("Content returned across a task's changed files; files beyond it come back without content"),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    model: z.string().optional().describe("Model the CLI uses; default: the CLI's own default"),
    defaultMaxTurns: z.number().int().positive().max(1000).default(20).describe('maxTurns when a request names none'),
    defaultAllowedTools: z
      .array(z.string())
      .default(['Bash', 'Read', 'Write', 'Edit', 'Glob', 'Grep'])
      .describe('Tools available to the agent when a request names none'),
    maxPromptChars: z.number().int().positive().default(200_000).describe('Longest accepted prompt'),
    taskTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30 * 60_000)
      .describe('A task running longer is interrupted'),
    maxRetries: z.number().int().min(0).max(20).default(10).describe('Retries of the CLI for a failing model call (429/529/5xx)'),
    claudeExecutable: z.string().optional().describe('Path of the Claude Code CLI binary; default: the one shipped with the Agent SDK'),
    fileCollection: fileCollectionSchema
      .default(FILE_COLLECTION_DEFAULTS)
      .describe('What reporting the files a task changed may cost (inside the task timeout)'),
  })
  .strict()
  .default({
    fileCollection: FILE_COLLECTION_DEFAULTS,
    defaultMaxTurns: 20,
    defaultAllowedTools: ['Bash', 'Read', 'Write', 'Edit', 'Glob', 'Grep'],
    maxPromptChars: 200_000,
    taskTimeoutMs: 30 * 60_000,
    maxRetries: 10,
  });
