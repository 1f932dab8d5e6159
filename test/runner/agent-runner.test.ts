// What the runner hands the sandbox when the Agent SDK launches the CLI: the environment built from
// scratch, and for a resumed transcript its directory, without any credentials file in it.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sandboxedQueryOptions } from '../../src/runner/agent-runner.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import type { Sandbox, SandboxSpawnRequest } from '../../src/sandbox/sandbox-provider.js';

describe('sandboxedQueryOptions', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function launch(spawnEnv: Record<string, string>): Promise<SandboxSpawnRequest> {
    const provider = createInMemorySandboxProvider();
    const inner = await provider.create({ resources: { memoryMb: 64, cpus: 1, diskMb: 16, pids: 16 }, bridges: [] });
    const requests: SandboxSpawnRequest[] = [];
    const sandbox: Sandbox = Object.assign(Object.create(inner) as Sandbox, {
      spawn: (request: SandboxSpawnRequest) => {
        requests.push(request);
        return inner.spawn(request);
      },
    });
    const options = sandboxedQueryOptions(
      {
        sandbox,
        gateway: { token: 'hgr-token', port: 4100 },
        claudeExecutable: '/opt/claude/claude',
        maxTurns: 3,
        allowedTools: ['Bash'],
        permissionMode: 'dontAsk',
        maxRetries: 2,
      },
      new AbortController(),
    );
    options.spawnClaudeCodeProcess?.({
      command: '/opt/claude/claude',
      args: ['--print'],
      cwd: '/workspace',
      env: spawnEnv,
      signal: new AbortController().signal,
    });
    await provider.close();
    expect(requests).toHaveLength(1);
    return requests[0]!;
  }

  it('gives the SDK tool names in tools and the permission rules in allowedTools and disallowedTools', async () => {
    const provider = createInMemorySandboxProvider();
    const sandbox = await provider.create({ resources: { memoryMb: 64, cpus: 1, diskMb: 16, pids: 16 }, bridges: [] });
    const options = sandboxedQueryOptions(
      {
        sandbox,
        gateway: { token: 'hgr-token', port: 4100 },
        claudeExecutable: '/opt/claude/claude',
        maxTurns: 3,
        allowedTools: ['Bash(npm test:*)', 'Read(./src/**)', 'Bash(git log:*)', 'Write'],
        disallowedTools: ['Bash(rm:*)'],
        permissionMode: 'dontAsk',
        maxRetries: 2,
      },
      new AbortController(),
    );
    await provider.close();
    expect(options.tools).toEqual(['Bash', 'Read', 'Write']);
    expect(options.allowedTools).toEqual(['Bash(npm test:*)', 'Read(./src/**)', 'Bash(git log:*)', 'Write']);
    expect(options.disallowedTools).toEqual(['Bash(rm:*)']);
  });

  it('hands a resumed transcript directory to the sandbox without the credentials file the SDK copied into it', async () => {
    const resumed = mkdtempSync(path.join(tmpdir(), 'claude-resume-'));
    dirs.push(resumed);
    writeFileSync(path.join(resumed, '.credentials.json'), '{"claudeAiOauth":{"accessToken":"host-secret"}}');
    writeFileSync(path.join(resumed, 'settings.json'), '{}');
    const request = await launch({ CLAUDE_CONFIG_DIR: resumed, ANTHROPIC_AUTH_TOKEN: 'host-token', CLAUDE_CODE_ENTRYPOINT: 'sdk-ts' });
    expect(existsSync(path.join(resumed, '.credentials.json'))).toBe(false);
    expect(existsSync(path.join(resumed, 'settings.json'))).toBe(true);
    expect(request.copyIntoTmp).toBe(resumed);
    expect(request.env.CLAUDE_CONFIG_DIR).toBe(resumed);
    expect(request.env.ANTHROPIC_AUTH_TOKEN).toBeUndefined();
    expect(request.env.ANTHROPIC_API_KEY).toBe('hgr-token');
    expect(request.env.CLAUDE_CODE_ENTRYPOINT).toBe('sdk-ts');
  });

  it('copies nothing in when the CLI starts a new conversation', async () => {
    const request = await launch({});
    expect(request.copyIntoTmp).toBeUndefined();
    expect(request.env.CLAUDE_CONFIG_DIR).toBe('/home/agent/.claude');
    expect(request.env.ANTHROPIC_BASE_URL).toBe('http://127.0.0.1:4100');
  });
});
