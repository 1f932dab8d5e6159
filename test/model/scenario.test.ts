// Scenario parsing: the shipped examples load, and invalid scenarios fail with the zod path named.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarError } from '../../src/errors/errors.js';
import { loadScenarioFile, parseScenario } from '../../src/model/scenario.js';

const scenariosDir = fileURLToPath(new URL('../../scenarios/', import.meta.url));

function invalid(value: unknown): HangarError {
  try {
    parseScenario(value);
  } catch (error) {
    expect(error).toBeInstanceOf(HangarError);
    return error as HangarError;
  }
  throw new Error('expected parseScenario to throw');
}

describe('parseScenario', () => {
  it('accepts the full format', () => {
    const scenario = parseScenario({
      model: 'claude-scripted',
      whenExhausted: { text: 'bye' },
      auxiliary: 'auto',
      replies: [
        {
          match: { lastUserText: 'hello', lastToolResult: '^ok', system: 'agent', model: 'opus', kind: 'any' },
          content: [
            { type: 'thinking', thinking: 'hmm' },
            { type: 'text', text: 'hi' },
            { type: 'tool_use', name: 'Bash', input: { command: 'ls' }, id: 'toolu_custom' },
          ],
          stopReason: 'tool_use',
          delayMs: 10,
          chunkDelayMs: 1,
          usage: { inputTokens: 1, outputTokens: 2, cacheCreationInputTokens: 3, cacheReadInputTokens: 4 },
          times: 2,
        },
        { fault: { status: 529, retryAfterSec: 0, message: 'busy', shouldRetry: false } },
        { fault: { cutAfterEvents: 3 }, content: [{ type: 'text', text: 'partial' }] },
      ],
    });
    expect(scenario.replies).toHaveLength(3);
  });

  it('names the zod path of the first problems in a SCENARIO_INVALID error', () => {
    const error = invalid({ replies: [{ content: [{ type: 'tool_use', name: 'Bash' }] }] });
    expect(error.code).toBe('SCENARIO_INVALID');
    expect(error.httpStatus).toBe(400);
    expect(error.message).toContain('replies.0.content.0.input');
  });

  it('rejects bad regexes, unknown fields, bad statuses and a missing replies list', () => {
    expect(invalid({ replies: [{ match: { lastUserText: '(' } }] }).message).toContain('replies.0.match.lastUserText: not a valid regular expression');
    expect(invalid({ replies: [{ contnet: [] }] }).message).toContain('replies.0');
    expect(invalid({ replies: [{ fault: { status: 200 } }] }).message).toContain('replies.0.fault');
    expect(invalid({ replies: [{ times: 0 }] }).message).toContain('replies.0.times');
    expect(invalid({}).message).toContain('replies');
    expect(invalid({ replies: [], whenExhausted: 'sometimes' }).message).toContain('whenExhausted');
  });
});

describe('loadScenarioFile', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-scenario-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads every example in scenarios/', async () => {
    const files = (await readdir(scenariosDir)).filter((name) => name.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const scenario = await loadScenarioFile(join(scenariosDir, file));
      expect(scenario.replies.length).toBeGreaterThan(0);
    }
  });

  it('fails with SCENARIO_INVALID on a missing file, bad JSON or an invalid scenario', async () => {
    await expect(loadScenarioFile(join(dir, 'absent.json'))).rejects.toMatchObject({
      code: 'SCENARIO_INVALID',
      message: expect.stringContaining('cannot read'),
    });
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "replies": [ }');
    await expect(loadScenarioFile(broken)).rejects.toMatchObject({
      code: 'SCENARIO_INVALID',
      message: expect.stringContaining('not valid JSON'),
    });
    const wrong = join(dir, 'wrong.json');
    await writeFile(wrong, JSON.stringify({ replies: [{ stopReason: 'done' }] }));
    await expect(loadScenarioFile(wrong)).rejects.toMatchObject({
      code: 'SCENARIO_INVALID',
      message: expect.stringContaining(`${wrong} is invalid: replies.0.stopReason`),
    });
  });
});
