// The `server` section of the configuration: where the HTTP API listens, how large a request may
// be, which Host headers it answers to, and how long shutdown waits for running tasks.
import { z } from 'zod';

export const serverConfigSchema = z
  .object({
    host: z.string().default('127.0.0.1').describe('Address the HTTP API listens on'),
    port: z.number().int().min(0).max(65535).default(8080).describe('Port of the HTTP API (0 = any free port)'),
    bodyLimitBytes: z
      .number()
      .int()
      .positive()
      .default(10 * 1024 * 1024)
      .describe('Largest accepted request body in bytes (initial files included)'),
    shutdownDrainMs: z
      .number()
      .int()
      .min(0)
      .max(10 * 60_000)
      .default(15_000)
      .describe(
        'At shutdown (SIGTERM, SIGINT, close()), how long Hangar waits for the running tasks it interrupts to stop and their sandboxes to go; ' +
          'tasks still stopping then are recorded interrupted and their sandboxes destroyed with the provider',
      ),
    allowedHosts: z
      .array(z.string().min(1))
      .optional()
      .describe(
        'Host header values the API answers to (name, or name:port for an exact port); others get 421. Unset: a loopback-bound ' +
          'server answers to localhost, 127.0.0.1 and [::1] at its port (against DNS rebinding), another bind address to any Host',
      ),
  })
  .strict()
  .default({ host: '127.0.0.1', port: 8080, bodyLimitBytes: 10 * 1024 * 1024, shutdownDrainMs: 15_000 });
