// The `hangar` command as a user runs it: real processes, the scripted model served by
// `hangar model serve`, a task run by `hangar run` in an embedded server with a real sandbox.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENTRY = path.join(ROOT, 'src/cli/entry.ts');

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Finished>; stdout: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Finished>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stdout: () => stdout };
}

async function waitFor(read: () => string, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = pattern.exec(read());
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${pattern}; output so far: ${read()}`);
}

async function serveModel(scenarioFile: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const model = startCli(['model', 'serve', '--scenario', scenarioFile, '--port', '0']);
  const match = await waitFor(model.stdout, /on (http:\/\/127\.0\.0\.1:\d+)/);
  return {
    url: match[1]!,
    stop: async () => {
      model.child.kill('SIGTERM');
      await model.done;
    },
  };
}

describe('hangar CLI', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hangar-cli-'));
  chmodSync(dataDir, 0o711);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs a task from the terminal: streams the agent live, then result, files and cost', async () => {
    const model = await serveModel(path.join(ROOT, 'scenarios/write-file.json'));
    try {
      const run = startCli(['run', 'create the output files', '--allowed-tools', 'Bash,Write', '--max-turns', '6', '--data-dir', dataDir], {
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: 'sk-cli-test',
      });
      const finished = await run.done;
      expect(finished.stderr).not.toMatch(/error/i);
      expect(finished.code).toBe(0);
      expect(finished.stdout).toMatch(/· task task_/);
      expect(finished.stdout).toMatch(/→ Bash .*out\/bash\.txt/);
      expect(finished.stdout).toMatch(/← hello from bash/);
      expect(finished.stdout).toMatch(/→ Write /);
      expect(finished.stdout).toMatch(/result: Done: out\/bash\.txt and out\/notes\.md are in place\./);
      expect(finished.stdout).toMatch(/file created: out\/bash\.txt/);
      expect(finished.stdout).toMatch(/file created: out\/notes\.md/);
      expect(finished.stdout).toMatch(/cost \$0\.\d{6}/);
    } finally {
      await model.stop();
    }
  }, 60_000);

  it('exits non-zero and says why when the task fails', async () => {
    // The agent keeps calling tools; one turn is not enough.
    const scenarioFile = path.join(dataDir, 'endless.json');
    writeFileSync(scenarioFile, JSON.stringify({ replies: [{ content: [{ type: 'tool_use', name: 'Bash', input: { command: 'echo again' } }], times: 20 }] }));
    const model = await serveModel(scenarioFile);
    try {
      const run = startCli(['run', 'never stop', '--max-turns', '1', '--allowed-tools', 'Bash', '--data-dir', dataDir, '--json'], {
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: 'sk-cli-test',
      });
      const finished = await run.done;
      expect(finished.code).toBe(1);
      const task = JSON.parse(finished.stdout) as { status: string; error: { code: string; message: string } };
      expect(task.status).toBe('failed');
      expect(task.error.code).toBe('MAX_TURNS');
    } finally {
      await model.stop();
    }
  }, 60_000);

  it('rejects bad flags with a message and a non-zero exit', async () => {
    const badTurns = await startCli(['run', 'x', '--max-turns', 'many']).done;
    expect(badTurns.code).not.toBe(0);
    expect(badTurns.stderr).toMatch(/--max-turns must be a whole number/);
    const missingScenario = await startCli(['model', 'serve', '--scenario', path.join(dataDir, 'nope.json')]).done;
    expect(missingScenario.code).toBe(1);
    expect(missingScenario.stderr).toMatch(/SCENARIO_INVALID: cannot read scenario file/);
  }, 30_000);

  it('drives sessions from the terminal: new, send --follow, ls, show, events, fork, rm', async () => {
    const scenarioFile = path.join(dataDir, 'session.json');
    writeFileSync(
      scenarioFile,
      JSON.stringify({
        replies: [
          { match: { lastUserText: 'remember' }, content: [{ type: 'tool_use', name: 'Bash', input: { command: 'echo kept > memory.txt && echo stored' } }] },
          { content: [{ type: 'text', text: 'Stored it.' }] },
          { match: { lastUserText: 'recall' }, content: [{ type: 'tool_use', name: 'Bash', input: { command: 'cat memory.txt' } }] },
          { content: [{ type: 'text', text: 'It says kept.' }] },
        ],
      }),
    );
    const model = await serveModel(scenarioFile);
    const server = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'sk-cli-test',
    });
    try {
      const url = (await waitFor(server.stdout, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      const created = await startCli(['sessions', 'new', '--server', url, '--allowed-tools', 'Bash'], { HANGAR_DATA_DIR: dataDir }).done;
      expect(created.code).toBe(0);
      const sessionId = created.stdout.trim();
      expect(sessionId).toMatch(/^sess_/);

      const first = await startCli(['sessions', 'send', sessionId, 'remember this', '--follow', '--server', url], { HANGAR_DATA_DIR: dataDir }).done;
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/queued msg_/);
      expect(first.stdout).toMatch(/→ Bash/);
      expect(first.stdout).toMatch(/turn done: Stored it\./);
      const second = await startCli(['sessions', 'send', sessionId, 'recall it', '--follow', '--server', url], { HANGAR_DATA_DIR: dataDir }).done;
      expect(second.stdout).toMatch(/← kept/);

      const listed = await startCli(['sessions', 'ls', '--server', url], { HANGAR_DATA_DIR: dataDir }).done;
      expect(listed.stdout).toMatch(new RegExp(`${sessionId}\\s+long-running\\s+idle\\s+turns\\s+2`));
      const shown = JSON.parse((await startCli(['sessions', 'show', sessionId, '--json', '--server', url], { HANGAR_DATA_DIR: dataDir }).done).stdout) as {
        turns: number;
        checkpoint: unknown;
      };
      expect(shown.turns).toBe(2);
      expect(shown.checkpoint).not.toBeNull();
      const events = (await startCli(['sessions', 'events', sessionId, '--no-follow', '--server', url], { HANGAR_DATA_DIR: dataDir }).done).stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { seq: number; type: string });
      expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
      expect(events.filter((event) => event.type === 'turn_completed')).toHaveLength(2);
      const fork = await startCli(['sessions', 'fork', sessionId, '--server', url], { HANGAR_DATA_DIR: dataDir }).done;
      expect(fork.stdout.trim()).toMatch(/^sess_/);
      const removed = await startCli(['sessions', 'rm', sessionId, '--server', url], { HANGAR_DATA_DIR: dataDir }).done;
      expect(removed.stdout.trim()).toBe(`${sessionId} closed`);
      const missing = await startCli(['sessions', 'show', 'sess_nope', '--server', url], { HANGAR_DATA_DIR: dataDir }).done;
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/SESSION_NOT_FOUND/);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
      await model.stop();
    }
  }, 90_000);

  it('serves the API, answers health checks, and stops cleanly on SIGTERM', async () => {
    const server = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], { ANTHROPIC_API_KEY: 'sk-cli-test' });
    const match = await waitFor(server.stdout, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const health = await fetch(`${match[1]}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
    server.child.kill('SIGTERM');
    const finished = await server.done;
    expect(finished.code).toBe(0);
  }, 30_000);
});
