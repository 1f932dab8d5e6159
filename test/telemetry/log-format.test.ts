// Readable log lines from pino's JSON lines.
import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../src/telemetry/log-format.js';

describe('formatLogLine', () => {
  const time = Date.UTC(2026, 11, 1, 12, 0, 1, 234);

  it('shows time, level, component, message and the other fields on one line', () => {
    const line = JSON.stringify({
      level: 40,
      time,
      pid: 1,
      hostname: 'h',
      service: 'hangar',
      component: 'gateway',
      sessionId: 'sess_1',
      detail: 'too big now',
      msg: 'gateway: request refused',
    });
    expect(formatLogLine(line)).toBe('12:00:01.234 WARN  gateway: gateway: request refused sessionId=sess_1 detail="too big now"\n');
  });

  it('shows an error by its message, never its stack, and keeps the line single', () => {
    const line = JSON.stringify({
      level: 50,
      time,
      msg: 'shutdown step\nfailed',
      err: { type: 'Error', message: 'boom\nagain', stack: 'Error: boom\n    at x (y.js:1:1)' },
    });
    const shown = formatLogLine(line);
    expect(shown).toBe('12:00:01.234 ERROR shutdown step failed err="boom again"\n');
    expect(shown.split('\n')).toHaveLength(2);
  });

  it('keeps a line that is not JSON', () => {
    expect(formatLogLine('plain text')).toBe('plain text\n');
  });
});
