// The README's quick start, run twice as a user would: `hangar model serve --loop` starts the
// script over, so the second `hangar run` works too. Without --loop the second run fails, and the
// error names the real upstream and says how to start the scenario over (not the sandbox's
// loopback gateway address).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, stopCli, waitForOutput } from '../helpers/cli-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCENARIO = path.join(ROOT, 'scenarios/write-file.json');

describe('quick start, run twice', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-quick-start-'));
  // Sandbox uids traverse the private data directories made under it.
  chmodSync(directory, 0o711);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  async function runQuickStart(modelUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return startCli(['run', 'create hello.txt and notes.md', '--allowed-tools', 'Bash,Write'], {
      ANTHROPIC_BASE_URL: modelUrl,
      ANTHROPIC_API_KEY: 'anything',
      TMPDIR: directory,
      HANGAR_PORT: '0',
    }).done;
  }

  it('re-runs with --loop; without it, the second run says the scenario is used up, where, and how to reset it', async () => {
    const looping = startCli(['model', 'serve', '--scenario', SCENARIO, '--port', '0', '--loop']);
    try {
      const url = (await waitForOutput(looping, /on (http:\/\/127\.0\.0\.1:\d+) \(looping\)/))[1]!;
      for (let run = 0; run < 2; run++) {
        const finished = await runQuickStart(url);
        expect(finished.code, finished.stdout + finished.stderr).toBe(0);
        expect(finished.stdout).toMatch(/file created: out\/notes\.md/);
      }
    } finally {
      await stopCli(looping);
    }

    const once = startCli(['model', 'serve', '--scenario', SCENARIO, '--port', '0']);
    try {
      const url = (await waitForOutput(once, /on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      expect((await runQuickStart(url)).code).toBe(0);
      const second = await runQuickStart(url);
      expect(second.code).toBe(1);
      expect(second.stdout).toContain(`the model upstream ${url} (behind Hangar's gateway) answered 500: Scripted scenario exhausted`);
      expect(second.stdout).toMatch(/serve it with --loop or set "whenExhausted": "restart"/);
      // The summary names the upstream where the CLI in the sandbox says "your inference gateway (127.0.0.1:4100)".
      const summary = second.stdout.split('\n').find((line) => line.startsWith('failed: '));
      expect(summary).toMatch(new RegExp(`check the model upstream \\(${url.replace(/[.]/g, '\\.')}, through Hangar's gateway\\)`));
      expect(summary).not.toMatch(/your inference gateway/);
      // The live transcript says the same.
      expect(second.stdout).not.toMatch(/your inference gateway/);
    } finally {
      await stopCli(once);
    }
  }, 180_000);
});
