// An in-memory AgentLauncher for unit tests of tasks and sessions: no CLI, no model. Each run or
// turn plays a scripted step: a result (success or an SDK error subtype), the usage its model calls
// would have had metered (reported through onUsage, as the gateway meters them), files the agent
// writes, a crash of the CLI, or a wait (until a promise settles, an interrupt, an abort or close).
// Live conversations mirror two transcript entries per turn (the prompt as it starts, the answer as
// it ends) to their SessionStore and load the transcript they resume, so checkpoints and forks see
// transcript positions as with the SDK.
import { randomUUID } from 'node:crypto';
import type { SDKMessage, SDKResultMessage, SessionKey } from '@anthropic-ai/claude-agent-sdk';
import { HangarError } from '../errors/errors.js';
import type { TokenUsage } from '../store/store.js';
import type { AgentLauncher, AgentLaunchOptions, AgentSession, AgentSessionOptions, AgentTurnOutcome } from './agent-launcher.js';

export interface FakeAgentStep {
  /** The result's subtype; default success. */
  subtype?: SDKResultMessage['subtype'];
  /** A success's result text (default "done"). */
  result?: string;
  /** A success that reports an error (is_error). */
  isError?: boolean;
  /** An error result's errors. */
  errors?: string[];
  numTurns?: number;
  /** What the SDK estimates the run cost (total_cost_usd); Hangar's own cost comes from the metered usage. */
  costUsd?: number;
  /** Tokens the step's model calls used, reported to onUsage under `model` (before a crash or a wait). */
  usage?: Partial<TokenUsage>;
  model?: string;
  /** Files the agent writes into the workspace. */
  files?: Record<string, string>;
  /** The CLI dies with this message instead of answering. */
  crash?: string;
  /** The step answers once this settles, or sooner when interrupted, aborted or closed. */
  until?: Promise<unknown>;
  contextTokens?: number;
  contextWindow?: number | null;
}

export interface FakeAgentCall {
  kind: 'run' | 'turn';
  prompt: string;
  sandboxId: string;
  options: AgentLaunchOptions & { resume?: string; forkSession?: boolean };
  /** For a turn: the transcript entries the conversation resumed from when it started. */
  resumedEntries?: number;
}

export interface FakeAgentLauncherOptions {
  /** The step each run or turn plays (default: success "done"). */
  script?: (call: FakeAgentCall) => FakeAgentStep | Promise<FakeAgentStep>;
  /** Usage of a step, as the gateway would meter it under the run's token. */
  onUsage?: (gatewayToken: string, model: string, usage: TokenUsage) => void;
}

export interface FakeAgentLauncher extends AgentLauncher {
  readonly calls: FakeAgentCall[];
  /** Runs and turns in progress now, and the most there were at once. */
  readonly active: number;
  readonly maxActive: number;
  /** Live conversations started, and interrupts asked for. */
  readonly sessionsStarted: number;
  readonly interrupts: number;
}

const PROJECT_KEY = 'fake-project';

function usageOf(step: FakeAgentStep): TokenUsage {
  return { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0, ...step.usage };
}

function resultMessage(step: FakeAgentStep, sessionId: string, interrupted: boolean): SDKResultMessage {
  const subtype = interrupted ? 'error_during_execution' : (step.subtype ?? 'success');
  const common = {
    type: 'result',
    duration_ms: 1,
    duration_api_ms: 1,
    num_turns: step.numTurns ?? 1,
    stop_reason: null,
    total_cost_usd: step.costUsd ?? 0,
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    modelUsage: {},
    permission_denials: [],
    uuid: randomUUID(),
    session_id: sessionId,
  };
  const message =
    subtype === 'success'
      ? { ...common, subtype, is_error: step.isError === true, result: step.result ?? 'done' }
      : { ...common, subtype, is_error: true, errors: interrupted ? ['the turn was interrupted'] : (step.errors ?? []) };
  return message as unknown as SDKResultMessage;
}

const initMessage = (sessionId: string): SDKMessage =>
  ({ type: 'system', subtype: 'init', session_id: sessionId, uuid: randomUUID() }) as unknown as SDKMessage;

/** Waits for `until`, or until `stopped` resolves; true when stopped first. */
async function waitOrStop(until: Promise<unknown> | undefined, stopped: Promise<void>): Promise<boolean> {
  if (until === undefined) return false;
  return Promise.race([
    until.then(
      () => false,
      () => false,
    ),
    stopped.then(() => true),
  ]);
}

export function createFakeAgentLauncher(options: FakeAgentLauncherOptions = {}): FakeAgentLauncher {
  const calls: FakeAgentCall[] = [];
  let active = 0;
  let maxActive = 0;
  let sessionsStarted = 0;
  let interrupts = 0;
  const script = options.script ?? ((): FakeAgentStep => ({}));

  /** The step's model calls, metered as they are made: before the CLI crashes or waits. */
  const meter = (step: FakeAgentStep, launch: AgentLaunchOptions): void => {
    const usage = usageOf(step);
    if (Object.values(usage).some((tokens) => tokens > 0)) options.onUsage?.(launch.gateway.token, step.model ?? launch.model ?? 'claude-sonnet-4-5', usage);
  };
  const writeFiles = async (step: FakeAgentStep, launch: AgentLaunchOptions): Promise<void> => {
    for (const [file, content] of Object.entries(step.files ?? {})) await launch.sandbox.writeFile(file, content);
  };

  const begin = (): void => {
    active += 1;
    maxActive = Math.max(maxActive, active);
  };

  return {
    calls,
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
    get sessionsStarted() {
      return sessionsStarted;
    },
    get interrupts() {
      return interrupts;
    },

    async run(request) {
      const call: FakeAgentCall = { kind: 'run', prompt: request.prompt, sandboxId: request.sandbox.id, options: request };
      calls.push(call);
      const sessionId = randomUUID();
      const aborted = new Promise<void>((resolve) => {
        if (request.abortSignal?.aborted) resolve();
        request.abortSignal?.addEventListener('abort', () => resolve(), { once: true });
      });
      const interruptedRun = {
        result: undefined,
        agentSessionId: sessionId,
        messageCount: 1,
        error: new HangarError('AGENT_FAILED', 'Claude Code ended without a result: the run was interrupted'),
      };
      begin();
      try {
        if (request.abortSignal?.aborted) return interruptedRun;
        request.onMessage?.(initMessage(sessionId));
        const step = await script(call);
        meter(step, request);
        if (step.crash !== undefined)
          return {
            result: undefined,
            agentSessionId: sessionId,
            messageCount: 1,
            error: new HangarError('AGENT_FAILED', `Claude Code ended without a result: ${step.crash}`),
          };
        if (await waitOrStop(step.until, aborted)) return interruptedRun;
        await writeFiles(step, request);
        const result = resultMessage(step, sessionId, false);
        request.onMessage?.(result);
        return { result, agentSessionId: sessionId, messageCount: 2, error: undefined };
      } finally {
        active -= 1;
      }
    },

    startSession(launch: AgentSessionOptions): AgentSession {
      sessionsStarted += 1;
      let agentSessionId: string | undefined = launch.forkSession ? undefined : launch.resume;
      let closed = false;
      let turn: { stop: () => void } | undefined;
      let close: () => void = () => undefined;
      const closing = new Promise<void>((resolve) => {
        close = resolve;
      });
      // The transcript the conversation continues from, read as the SDK reads it on resume.
      const resumed: Promise<unknown[]> =
        launch.resume === undefined
          ? Promise.resolve([])
          : launch.sessionStore.load({ projectKey: PROJECT_KEY, sessionId: launch.resume }).then((entries) => entries ?? []);
      const session: AgentSession = {
        get agentSessionId() {
          return agentSessionId;
        },
        get closed() {
          return closed;
        },
        async runTurn(prompt): Promise<AgentTurnOutcome> {
          if (closed) throw new HangarError('AGENT_FAILED', 'Claude Code is not running: the session was closed');
          if (turn !== undefined) throw new HangarError('CONFLICT', 'a turn is already running in this session');
          let stop: () => void = () => undefined;
          const stopped = new Promise<void>((resolve) => {
            stop = resolve;
          });
          turn = { stop };
          begin();
          try {
            const history = await resumed;
            const call: FakeAgentCall = { kind: 'turn', prompt, sandboxId: launch.sandbox.id, options: launch, resumedEntries: history.length };
            calls.push(call);
            if (agentSessionId === undefined) {
              agentSessionId = randomUUID();
              // A new or forked conversation starts from the transcript it resumed.
              if (history.length > 0) await launch.sessionStore.append(key(agentSessionId), history as never[]);
            }
            launch.onMessage(initMessage(agentSessionId));
            await launch.sessionStore.append(key(agentSessionId), [
              { type: 'user', uuid: randomUUID(), message: { role: 'user', content: prompt } },
            ] as never[]);
            const step = await script(call);
            meter(step, launch);
            if (step.crash !== undefined) {
              closed = true;
              throw new HangarError('AGENT_FAILED', `Claude Code ended during the turn: ${step.crash}`);
            }
            const interrupted = await waitOrStop(step.until, Promise.race([stopped, closing]));
            if (closed) throw new HangarError('AGENT_FAILED', 'Claude Code ended during the turn: the process exited');
            await writeFiles(step, launch);
            await launch.sessionStore.append(key(agentSessionId), [
              { type: 'assistant', uuid: randomUUID(), message: { role: 'assistant', content: step.result ?? 'done' } },
            ] as never[]);
            const result = resultMessage(step, agentSessionId, interrupted);
            launch.onMessage(result);
            return { result, contextTokens: step.contextTokens ?? 0, contextWindow: step.contextWindow ?? null };
          } finally {
            turn = undefined;
            active -= 1;
          }
        },
        async interrupt() {
          if (closed || turn === undefined) return;
          interrupts += 1;
          turn.stop();
        },
        async close() {
          closed = true;
          close();
        },
      };
      return session;
    },
  };
}

const key = (sessionId: string): SessionKey => ({ projectKey: PROJECT_KEY, sessionId });
