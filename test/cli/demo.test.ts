// A newcomer without an API key: `hangar run --demo` runs a real task end to end (an embedded
// server on a private data directory, a sandbox, the Claude Code CLI, a Bash call, a file written)
// against Hangar's scripted demo model, every answer marked [demo]; the private directory is gone after.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli-process.js';

describe('hangar run --demo', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-demo-'));
  // Sandbox uids traverse the private data directory made under it.
  chmodSync(directory, 0o711);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('runs a task end to end without a key, says it is a demo, and leaves no data directory', async () => {
    // No ANTHROPIC_* variable; TMPDIR is where the private data directory goes.
    const finished = await startCli(['run', '--demo', 'what is in this repository?'], { TMPDIR: directory }).done;
    expect(finished.code).toBe(0);
    expect(finished.stderr).toMatch(/demo mode: the model is Hangar's scripted demo/);
    expect(finished.stdout).toMatch(/^\[demo\] This answer comes from Hangar's scripted demo model/m);
    expect(finished.stdout).toMatch(/→ Bash .*hangar-demo\.txt/);
    expect(finished.stdout).toMatch(/← Hangar demo ran here at /);
    expect(finished.stdout).toMatch(/result: \[demo\] Done: hangar-demo\.txt is in the workspace/);
    expect(finished.stdout).toMatch(/file created: hangar-demo\.txt/);
    expect(readdirSync(directory).filter((entry) => entry.startsWith('hangar-run-'))).toEqual([]);
  }, 120_000);
});
