// Request schema pieces shared by the task and session routes.
import { z } from 'zod';
import type { HangarConfig } from '../config/config.js';

/** Sandbox limits a request may ask for, bounded by the configured maximum. */
export function resourcesSchema(config: HangarConfig) {
  const maximum = config.sandbox.maximum;
  return z
    .object({
      memoryMb: z.number().int().min(64).max(maximum.memoryMb).optional(),
      cpus: z.number().min(0.05).max(maximum.cpus).optional(),
      diskMb: z.number().int().min(8).max(maximum.diskMb).optional(),
    })
    .strict();
}

/** Names of the tools an agent may use. */
export const allowedToolsSchema = z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'tool names are letters, digits and underscores')).max(64);

/** Initial workspace files: relative path -> UTF-8 content. */
export const workspaceFilesSchema = z
  .record(z.string().min(1).max(1024), z.string())
  .refine((files) => Object.keys(files).length <= 10_000, 'at most 10000 files');

/** Free-form string labels of a session. */
export const metadataSchema = z
  .record(z.string().min(1).max(100), z.string().max(1000))
  .refine((value) => Object.keys(value).length <= 50, 'at most 50 metadata keys');
