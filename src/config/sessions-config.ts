// The `sessions` section of the configuration: idle hibernation, checkpoints (how many, how large,
// what of HOME they leave out) and the sweep of orphaned checkpoint blobs.
import { z } from 'zod';

export const sessionsConfigSchema = z
  .object({
    defaultIdleTimeoutSec: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(300)
      .describe('Seconds without a turn before a long-running session is checkpointed and hibernated'),
    checkpointRetention: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe('Checkpoints kept per session (the newest; the one the session resumes from is always kept); older ones and their blobs are deleted'),
    maxSnapshotBytes: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Largest compressed workspace snapshot stored for a checkpoint; a larger one fails the checkpoint. Default: 2x the sandbox disk limit'),
    snapshotTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(300_000)
      .describe('Time limit of each of making, verifying and restoring a snapshot of the workspace and HOME; tar is killed beyond it'),
    checkpointHomeExcludes: z
      .array(
        z
          .string()
          .min(1)
          .max(512)
          .refine(
            (entry) => !entry.startsWith('/') && !entry.split('/').some((part) => part === '.' || part === '..'),
            'a relative path under HOME without . or .. components',
          ),
      )
      .max(64)
      .default(['.cache', '.npm/_cacache'])
      .describe(
        'Paths under HOME (literal, relative to /home/agent) left out of checkpoints, with everything below them; caches by default. ' +
          "The CLI's own transcripts and per-process state under ~/.claude are always left out",
      ),
    blobSweepIntervalSec: z
      .number()
      .int()
      .min(1)
      .default(3600)
      .describe('Seconds between sweeps that delete checkpoint blobs with no checkpoint record (also run at start)'),
  })
  .strict()
  .default({
    defaultIdleTimeoutSec: 300,
    checkpointRetention: 5,
    snapshotTimeoutMs: 300_000,
    checkpointHomeExcludes: ['.cache', '.npm/_cacache'],
    blobSweepIntervalSec: 3600,
  });
