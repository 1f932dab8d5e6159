// Claude Code permission rules reach the real agent: `hangar run --allowed-tools "Bash(echo approved:*),Read,Write"
// --disallowed-tools Write` lets the agent run the approved command, denies another Bash command
// (the default permission mode approves only what allowedTools matches), and takes Write away.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, stopCli, waitForOutput } from '../helpers/cli-process.js';

describe('permission rules in allowedTools and disallowedTools', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-rules-'));
  // Sandbox uids traverse the private data directory made under it.
  chmodSync(directory, 0o711);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('approves what a rule matches, denies the rest, and removes a disallowed tool', async () => {
    const scenario = path.join(directory, 'rules.json');
    writeFileSync(
      scenario,
      JSON.stringify({
        replies: [
          { content: [{ type: 'tool_use', name: 'Bash', input: { command: 'echo approved by rule' } }] },
          { match: { lastToolResult: 'approved by rule' }, content: [{ type: 'tool_use', name: 'Bash', input: { command: 'touch not-approved.txt' } }] },
          { content: [{ type: 'text', text: 'finished' }] },
        ],
      }),
    );
    const model = startCli(['model', 'serve', '--scenario', scenario, '--port', '0']);
    try {
      const url = (await waitForOutput(model, /on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      const finished = await startCli(
        ['run', 'try both commands', '--allowed-tools', 'Bash(echo approved:*),Read,Write', '--disallowed-tools', 'Write', '--max-turns', '5'],
        {
          ANTHROPIC_BASE_URL: url,
          ANTHROPIC_API_KEY: 'sk-rules-test',
          TMPDIR: directory,
          HANGAR_PORT: '0',
        },
      ).done;
      expect(finished.code, finished.stdout + finished.stderr).toBe(0);
      const init = /^· session \S+ \(model \S+, tools: (.*)\)$/m.exec(finished.stdout)?.[1]?.split(', ');
      expect(init).toEqual(expect.arrayContaining(['Bash', 'Read']));
      expect(init).not.toContain('Write');
      expect(finished.stdout).toMatch(/^← approved by rule$/m);
      expect(finished.stdout).toMatch(/^← error: .*/m);
      expect(finished.stdout).not.toMatch(/not-approved\.txt \(/);
      expect(finished.stdout).toMatch(/result: finished/);
    } finally {
      await stopCli(model);
    }
  }, 120_000);
});
