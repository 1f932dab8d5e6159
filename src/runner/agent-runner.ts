// Runs one agent conversation: the Agent SDK's query() on the host, with the Claude Code CLI
// launched inside the sandbox through spawnClaudeCodeProcess. The CLI reaches the model only
// through the gateway bridge and holds a per-session token, never the real API key.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { query, type Options, type SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { HangarError } from '../errors/errors.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { AgentLaunchOptions, AgentRunOutcome, AgentRunRequest } from './agent-launcher.js';
import { toolNamesOf } from './permission-rules.js';

export { PERMISSION_MODES, type AgentPermissionMode } from './agent-options.js';

/** Finds the native Claude Code binary shipped with the Agent SDK for this platform. */
export function resolveBundledClaudeExecutable(): string {
  const require = createRequire(import.meta.url);
  const base = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`;
  for (const packageName of [base, `${base}-musl`]) {
    try {
      return path.join(path.dirname(require.resolve(`${packageName}/package.json`)), 'claude');
    } catch {
      // Try the next variant.
    }
  }
  throw new HangarError(
    'SANDBOX_UNAVAILABLE',
    `the Claude Code binary (${base}) is not installed: run \`npm ci\` (it is an optional dependency of @anthropic-ai/claude-agent-sdk)`,
  );
}

/** Environment variables that carry credentials; never handed to a sandbox even if something sets them. */
const CREDENTIAL_VARIABLES = new Set([
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'GOOGLE_APPLICATION_CREDENTIALS',
]);

/** The complete environment of the CLI inside the sandbox. */
export function sandboxEnvironment(sandbox: Sandbox, request: Pick<AgentLaunchOptions, 'gateway' | 'maxRetries' | 'environment'>): Record<string, string> {
  return {
    ...request.environment,
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: sandbox.homePath,
    // Explicit, so the SDK on the host and the CLI in the sandbox agree on where transcripts live
    // (the SDK maps transcript paths to SessionStore keys relative to this directory).
    CLAUDE_CONFIG_DIR: `${sandbox.homePath}/.claude`,
    USER: 'agent',
    LOGNAME: 'agent',
    SHELL: '/bin/bash',
    LANG: 'C.UTF-8',
    TMPDIR: '/tmp',
    ANTHROPIC_BASE_URL: `http://127.0.0.1:${request.gateway.port}`,
    ANTHROPIC_API_KEY: request.gateway.token,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_MAX_RETRIES: String(request.maxRetries),
  };
}

/**
 * The CLI's environment: what the SDK computed (from Hangar's own env, never the host's), minus
 * credential variables, with Hangar's values on top. A CLAUDE_CONFIG_DIR the SDK chose (a resumed
 * transcript's directory) is kept.
 */
export function cliEnvironment(spawnEnv: Record<string, string | undefined>, environment: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(spawnEnv)) {
    if (value !== undefined && !CREDENTIAL_VARIABLES.has(name)) env[name] = value;
  }
  Object.assign(env, environment);
  if (spawnEnv.CLAUDE_CONFIG_DIR !== undefined) env.CLAUDE_CONFIG_DIR = spawnEnv.CLAUDE_CONFIG_DIR;
  return env;
}

/**
 * SDK options shared by every launch: the CLI runs in the sandbox with a clean environment, only
 * the allowed tools, no settings from disk. When the SDK resumes a stored transcript it writes it to
 * a private host directory and points CLAUDE_CONFIG_DIR there; the CLI sees that one directory at
 * the same path.
 */
export function sandboxedQueryOptions(launch: AgentLaunchOptions, abortController: AbortController): Options {
  const { sandbox } = launch;
  const environment = sandboxEnvironment(sandbox, launch);
  return {
    cwd: sandbox.workspacePath,
    env: environment,
    pathToClaudeCodeExecutable: launch.claudeExecutable,
    abortController,
    maxTurns: launch.maxTurns,
    tools: toolNamesOf(launch.allowedTools),
    allowedTools: launch.allowedTools,
    ...(launch.disallowedTools !== undefined && launch.disallowedTools.length > 0 ? { disallowedTools: launch.disallowedTools } : {}),
    permissionMode: launch.permissionMode,
    settingSources: [],
    systemPrompt: { type: 'preset', preset: 'claude_code', ...(launch.appendSystemPrompt ? { append: launch.appendSystemPrompt } : {}) },
    ...(launch.model ? { model: launch.model } : {}),
    ...(launch.maxBudgetUsd !== undefined ? { maxBudgetUsd: launch.maxBudgetUsd } : {}),
    ...(launch.permissionMode === 'bypassPermissions' ? { allowDangerouslySkipPermissions: true } : {}),
    spawnClaudeCodeProcess: (spawnOptions) => {
      const env = cliEnvironment(spawnOptions.env, environment);
      const resumedConfigDir = env.CLAUDE_CONFIG_DIR !== environment.CLAUDE_CONFIG_DIR ? env.CLAUDE_CONFIG_DIR : undefined;
      // The SDK copies the credentials file of the configured CLAUDE_CONFIG_DIR, read on the host,
      // into a resumed transcript's directory. The sandbox authenticates with its gateway token only.
      if (resumedConfigDir !== undefined) rmSync(path.join(resumedConfigDir, '.credentials.json'), { force: true });
      return sandbox.spawn({
        command: spawnOptions.command,
        args: spawnOptions.args,
        env,
        cwd: sandbox.workspacePath,
        ...(resumedConfigDir !== undefined ? { copyIntoTmp: resumedConfigDir } : {}),
        ...(launch.onStderr ? { onStderr: launch.onStderr } : {}),
      });
    },
  };
}

export async function runAgent(request: AgentRunRequest): Promise<AgentRunOutcome> {
  const abortController = new AbortController();
  const onAbort = (): void => abortController.abort();
  request.abortSignal?.addEventListener('abort', onAbort, { once: true });
  if (request.abortSignal?.aborted) abortController.abort();

  const options = sandboxedQueryOptions(request, abortController);

  let result: SDKResultMessage | undefined;
  let agentSessionId: string | undefined;
  let messageCount = 0;
  let error: HangarError | undefined;
  try {
    for await (const message of query({ prompt: request.prompt, options })) {
      messageCount += 1;
      if (message.type === 'system' && message.subtype === 'init') agentSessionId = message.session_id;
      if (message.type === 'result') result = message;
      request.onMessage?.(message);
      // The run is over at its result, whatever the sandbox still runs (a background shell the CLI
      // would wait for, a stopped process): leaving the loop ends the CLI.
      if (result !== undefined) break;
    }
  } catch (caught) {
    if (result === undefined) {
      const reason = abortController.signal.aborted ? 'the run was interrupted' : (caught as Error).message;
      error = new HangarError('AGENT_FAILED', `Claude Code ended without a result: ${reason}`, { cause: caught });
    }
  } finally {
    request.abortSignal?.removeEventListener('abort', onAbort);
  }
  if (result === undefined && error === undefined) {
    error = new HangarError('AGENT_FAILED', 'Claude Code ended without a result message');
  }
  return { result, agentSessionId, messageCount, error };
}
