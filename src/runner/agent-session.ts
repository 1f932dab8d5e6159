// A live agent conversation in streaming-input mode: one Claude Code CLI process inside a sandbox
// that takes prompts one turn at a time and stays up between them. Transcripts are mirrored to a
// SessionStore so the conversation can be resumed in another sandbox (hibernation, hybrid
// sessions, recovery, fork).
import { query, type Options, type Query, type SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import { HangarError } from '../errors/errors.js';
import type { AgentSession, AgentSessionOptions, AgentTurnOutcome } from './agent-launcher.js';
import { sandboxedQueryOptions } from './agent-runner.js';

/** An async queue of user messages feeding the CLI's stdin. */
class PromptQueue implements AsyncIterable<SDKUserMessage> {
  private readonly pending: SDKUserMessage[] = [];
  private waiter: ((result: IteratorResult<SDKUserMessage>) => void) | undefined;
  private ended = false;

  push(prompt: string): void {
    const message: SDKUserMessage = { type: 'user', message: { role: 'user', content: prompt }, parent_tool_use_id: null };
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      resolve({ value: message, done: false });
    } else {
      this.pending.push(message);
    }
  }

  end(): void {
    this.ended = true;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    return {
      next: () => {
        const message = this.pending.shift();
        if (message) return Promise.resolve({ value: message, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
    };
  }
}

const CLOSE_GRACE_MS = 5_000;

export function startAgentSession(options: AgentSessionOptions): AgentSession {
  const prompts = new PromptQueue();
  const abortController = new AbortController();
  let agentSessionId: string | undefined = options.forkSession ? undefined : options.resume;
  let closed = false;
  let failure: Error | undefined;
  let currentTurn: { resolve: (outcome: AgentTurnOutcome) => void; reject: (error: Error) => void } | undefined;
  let lastContextTokens = 0;

  const sdkOptions: Options = {
    ...sandboxedQueryOptions(options, abortController),
    sessionStore: options.sessionStore,
    ...(options.resume ? { resume: options.resume } : {}),
    ...(options.forkSession ? { forkSession: true } : {}),
  };

  const conversation: Query = query({ prompt: prompts, options: sdkOptions });

  const consume = async (): Promise<void> => {
    try {
      for await (const message of conversation) {
        if (message.type === 'system' && message.subtype === 'init') agentSessionId = message.session_id;
        if (message.type === 'assistant') {
          const usage = message.message.usage;
          // The prompt of the last model call: everything the context held (the answer is not yet in it).
          lastContextTokens = (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
        }
        options.onMessage(message);
        if (message.type === 'result') {
          const windows = Object.values(message.modelUsage ?? {})
            .map((usage) => usage.contextWindow)
            .filter((value): value is number => typeof value === 'number' && value > 0);
          const turn = currentTurn;
          currentTurn = undefined;
          turn?.resolve({ result: message, contextTokens: lastContextTokens, contextWindow: windows.length > 0 ? Math.max(...windows) : null });
        }
      }
    } catch (error) {
      failure = error as Error;
    } finally {
      closed = true;
      const turn = currentTurn;
      currentTurn = undefined;
      turn?.reject(new HangarError('AGENT_FAILED', `Claude Code ended during the turn: ${failure?.message ?? 'the process exited'}`, { cause: failure }));
    }
  };
  const consumed = consume();

  return {
    get agentSessionId() {
      return agentSessionId;
    },
    get closed() {
      return closed;
    },
    runTurn(prompt) {
      if (closed) return Promise.reject(new HangarError('AGENT_FAILED', `Claude Code is not running: ${failure?.message ?? 'the session was closed'}`));
      if (currentTurn) return Promise.reject(new HangarError('CONFLICT', 'a turn is already running in this session'));
      return new Promise<AgentTurnOutcome>((resolve, reject) => {
        currentTurn = { resolve, reject };
        prompts.push(prompt);
      });
    },
    async interrupt() {
      if (closed || currentTurn === undefined) return;
      await conversation.interrupt();
    },
    async close() {
      prompts.end();
      const timer = setTimeout(() => abortController.abort(), CLOSE_GRACE_MS);
      try {
        await consumed;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
