// Readable one-line logs for a terminal: `12:00:01.234 WARN  gateway: message key=value ...`,
// from pino's JSON lines. An error shows its message, never its stack (the JSON form keeps it).
import type { DestinationStream } from 'pino';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, or that the line's layout shows elsewhere. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg', 'component']);
const MAX_VALUE_CHARS = 300;

function showValue(key: string, value: unknown): string {
  if (key === 'err' && typeof value === 'object' && value !== null && 'message' in value) {
    const error = value as { type?: unknown; code?: unknown; message: unknown };
    const code = typeof error.code === 'string' ? `${error.code}: ` : '';
    return JSON.stringify(`${code}${String(error.message)}`.replace(/\s+/g, ' '));
  }
  if (typeof value === 'string') return /^[^\s"]+$/.test(value) ? value : JSON.stringify(value.replace(/\s+/g, ' '));
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}

/** One pino JSON line as a readable line (ending in a newline); a line that is not JSON is kept. */
export function formatLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (typeof record !== 'object' || record === null) return line.endsWith('\n') ? line : `${line}\n`;
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[Number(record.level)] ?? String(record.level)).padEnd(5);
  const component = typeof record.component === 'string' ? `${record.component}: ` : '';
  const message = String(record.msg ?? '').replace(/\s*\n\s*/g, ' ');
  const fields = Object.entries(record)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${showValue(key, value)}`);
  return `${[time, level, `${component}${message}`, ...fields].filter((part) => part !== '').join(' ')}\n`;
}

/** A pino destination that writes readable lines to `write` (stderr by default). */
export function prettyDestination(write: (text: string) => void = (text) => process.stderr.write(text)): DestinationStream {
  return { write: (line: string) => write(formatLogLine(line)) };
}
