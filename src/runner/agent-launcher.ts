// The AgentLauncher port: how tasks and sessions run an agent. `run` drives one conversation to its
// result (a task); `startSession` starts a live conversation that takes turns one at a time (a
// session). The SDK implementation (sdk-agent-launcher.ts) runs the Claude Code CLI inside the
// sandbox; the in-memory fake (fake-agent-launcher.ts) plays scripted results for unit tests.
import type { SDKMessage, SDKResultMessage, SessionStore } from '@anthropic-ai/claude-agent-sdk';
import type { HangarError } from '../errors/errors.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { AgentPermissionMode } from './agent-options.js';

export interface AgentLauncher {
  /** Runs one conversation to its result; resolves with the outcome (failures included), never rejects. */
  run(request: AgentRunRequest): Promise<AgentRunOutcome>;
  /** Starts a live conversation in the sandbox; turns are then sent with runTurn(). */
  startSession(options: AgentSessionOptions): AgentSession;
}

/** What every agent launch needs: the sandbox, the gateway bridge and the agent's limits. */
export interface AgentLaunchOptions {
  sandbox: Sandbox;
  /** Token the gateway issued for this run, and the loopback port of the gateway bridge inside the sandbox. */
  gateway: { token: string; port: number };
  claudeExecutable: string;
  maxTurns: number;
  /**
   * Tool names and permission rules (`Bash(npm test:*)`) pre-approved for the agent. The agent has
   * the tools they name and nothing else; a rule approves only what it matches.
   */
  allowedTools: string[];
  /** Tool names and permission rules the agent may never use (the SDK's disallowedTools). */
  disallowedTools?: string[];
  permissionMode: AgentPermissionMode;
  appendSystemPrompt?: string;
  model?: string;
  /** Most the run may spend (the SDK's maxBudgetUsd): reaching it ends it with error_max_budget_usd. */
  maxBudgetUsd?: number;
  /** Retries of the CLI for a failing model call. */
  maxRetries: number;
  /** More environment for the CLI and its tools (the egress proxy's); never replaces Hangar's own variables. */
  environment?: Record<string, string>;
  onStderr?: (chunk: string) => void;
}

export interface AgentRunRequest extends AgentLaunchOptions {
  prompt: string;
  abortSignal?: AbortSignal;
  onMessage?: (message: SDKMessage) => void;
}

export interface AgentRunOutcome {
  /** The SDK's final result message, when the CLI got that far. */
  result: SDKResultMessage | undefined;
  /** The Claude Code session id (from the init message). */
  agentSessionId: string | undefined;
  messageCount: number;
  /** Set when the run ended without a result message (CLI crash, abort, spawn failure). */
  error: HangarError | undefined;
}

export interface AgentSessionOptions extends AgentLaunchOptions {
  sessionStore: SessionStore;
  /** Resume this Claude Code session (its transcript comes from the SessionStore). */
  resume?: string;
  /** With resume: continue under a new session id, leaving the original transcript untouched. */
  forkSession?: boolean;
  onMessage: (message: SDKMessage) => void;
}

export interface AgentTurnOutcome {
  result: SDKResultMessage;
  /** Input + cache tokens of the turn's last model call: the size of the context. */
  contextTokens: number;
  /** The model's context window, when the CLI reported it. */
  contextWindow: number | null;
}

export interface AgentSession {
  /** The Claude Code session id, known once the CLI has initialized. */
  readonly agentSessionId: string | undefined;
  /** True once the CLI has exited or failed; a closed session takes no more turns. */
  readonly closed: boolean;
  /** Runs one turn; resolves with its result message. Turns must not overlap. */
  runTurn(prompt: string): Promise<AgentTurnOutcome>;
  /** Asks the CLI to stop the current turn; the turn then resolves with its (error) result. */
  interrupt(): Promise<void>;
  /** Ends the input stream and waits for the CLI to exit (killing it after a grace period). */
  close(): Promise<void>;
}
