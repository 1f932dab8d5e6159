// Structured logs with pino. Credentials are redacted wherever they could appear.
import pino, { type Logger } from 'pino';
import type { HangarConfig } from '../config/config.js';
import { prettyDestination, type LogFormat } from './log-format.js';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'upstreamApiKey',
  '*.upstreamApiKey',
  'apiKey',
  '*.apiKey',
  'token',
  '*.token',
];

export function createLogger(level: HangarConfig['logLevel'], destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, base: { service: 'hangar' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination === undefined ? pino(options, pino.destination(2)) : pino(options, destination);
}

export interface LogOutput {
  /** pretty: readable lines; json: pino's JSON lines. Ignored with a file (always JSON). */
  format?: LogFormat;
  /** Append JSON lines to this file instead of writing to stderr. */
  file?: string;
}

/** The logger of a CLI command: readable lines on stderr by default, JSON on request or to a file. */
export function createCliLogger(level: HangarConfig['logLevel'], output: LogOutput): Logger {
  if (output.file !== undefined) return createLogger(level, pino.destination({ dest: output.file, mkdir: true, sync: true }));
  return createLogger(level, output.format === 'json' ? pino.destination(2) : prettyDestination());
}
