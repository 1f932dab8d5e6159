// Structured logs with pino. Credentials are redacted wherever they could appear.
import pino, { type Logger } from 'pino';
import type { HangarConfig } from '../config/config.js';

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
