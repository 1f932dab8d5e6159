// Session benchmarks for `npm run bench`: hibernate and wake latency of a session with a 10 MB
// workspace and a transcript of 200+ entries, event replay rate over HTTP, and what a live and a
// hibernated session cost the host (processes and memory).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { query } from '@anthropic-ai/claude-agent-sdk';
import pino from 'pino';
import { readAdminKey } from '../src/auth/admin-key.js';
import { createHangar, type Hangar } from '../src/app.js';
import { HangarClient, type SessionEventView } from '../src/client/hangar-client.js';
import { parseConfig } from '../src/config/config.js';
import type { Scenario } from '../src/model/scenario.js';
import { startScriptedModelServer } from '../src/model/scripted-model-server.js';
import { resolveBundledClaudeExecutable } from '../src/runner/agent-runner.js';
import type { LocalSandbox, LocalSandboxProvider } from '../src/sandbox/providers/local/index.js';
import { createAgentSessionStore } from '../src/store/agent-session-store.js';

/** Variants of the session bench: a HOME with a realistic npm cache, archived or excluded. */
export interface SessionBenchOptions {
  /** A bash script the setup turn also runs (to fill HOME). */
  homeSetup?: string;
  /** sessions.checkpointHomeExcludes (default: the configuration's default). */
  homeExcludes?: string[];
  /** Measure hibernate and wake (and the baseline) only: no replay, no live-session cost. */
  wakeOnly?: boolean;
}

export interface SessionBenchResult {
  workspaceBytes: number;
  transcriptEntries: number;
  /** Compressed size of the checkpoint the wakes restore from. */
  checkpointBytes: number;
  hibernateMs: number[];
  /** Message sent -> sandbox created and workspace restored (the `woke` event). */
  restoreMs: number[];
  /** Message sent -> the resumed CLI reported init (ready to run the turn). */
  readyMs: number[];
  /** Message sent -> the turn completed (one model call). */
  turnMs: number[];
  /** Baseline: the bare SDK query() resuming the same transcript on the host (no sandbox) -> init. */
  bareResumeReadyMs: number[];
  replayEvents: number;
  replayEventsPerSecond: number;
  replayMegabytesPerSecond: number;
  live: { sessions: number; processesPerSession: number; sandboxRssMbPerSession: number };
  hibernated: { processes: number; sandboxes: number };
}

const WAKE_CYCLES = Number(process.env.BENCH_WAKE_CYCLES ?? 10);
const REPLAY_EVENTS = Number(process.env.BENCH_REPLAY_EVENTS ?? 20_000);

async function waitFor<T>(check: () => Promise<T | undefined>, label: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function rssOfPids(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

export async function benchSessions(dataDir: string, options: SessionBenchOptions = {}): Promise<SessionBenchResult> {
  // One turn with 90 tool calls builds a transcript of 200+ entries; later turns are one reply each.
  // The HOME script reaches the workspace as an initial file (checkpoint 0).
  const fill = options.homeSetup === undefined ? '' : ' && bash fill-home.sh';
  const setup: Scenario = {
    replies: [
      {
        content: [{ type: 'tool_use', name: 'Bash', input: { command: `head -c 10485760 /dev/urandom > data.bin && ls -l data.bin${fill}`, timeout: 300000 } }],
      },
      { content: [{ type: 'tool_use', name: 'Bash', input: { command: 'true' } }], times: 90 },
      { content: [{ type: 'text', text: 'ready' }] },
    ],
    whenExhausted: { text: 'awake' },
  };
  const model = await startScriptedModelServer({ scenario: setup, host: '127.0.0.1', port: 0, logger: false });
  const config = parseConfig({
    dataDir,
    logLevel: 'silent',
    server: { host: '127.0.0.1', port: 0 },
    // The bench polls the API as fast as it can: the per-tenant request rate limit is not what it measures.
    auth: { rateLimit: { requestsPerSecond: 100_000, burst: 100_000 } },
    gateway: { upstreamUrl: model.url, upstreamApiKey: 'sk-bench' },
    sandbox: { uidRangeStart: 302000, uidRangeSize: 100 },
    ...(options.homeExcludes !== undefined ? { sessions: { checkpointHomeExcludes: options.homeExcludes } } : {}),
  });
  const sandboxes: LocalSandbox[] = [];
  let hangar: Hangar | undefined;
  try {
    hangar = await createHangar(config, { logger: pino({ level: 'silent' }) });
    const provider = hangar.sandboxProvider as LocalSandboxProvider;
    /** Waits until the provider's background work is done: a hibernated session is idle a while before it wakes. */
    const quiet = async (): Promise<void> => {
      await provider.settled();
      await new Promise((resolve) => setTimeout(resolve, 100));
    };
    const create = provider.create.bind(provider);
    provider.create = async (spec) => {
      const sandbox = (await create(spec)) as LocalSandbox;
      sandboxes.push(sandbox);
      return sandbox;
    };
    const client = new HangarClient(await hangar.listen(), { apiKey: await readAdminKey(dataDir) });

    // All the machine's cores, as the bare baseline has: the benchmark measures Hangar, not a CPU quota.
    const session = await client.createSession({
      pattern: 'long-running',
      allowedTools: ['Bash'],
      maxTurns: 100,
      idleTimeoutSec: 3600,
      prompt: 'prepare',
      resources: { cpus: os.cpus().length },
      ...(options.homeSetup !== undefined ? { files: { 'fill-home.sh': options.homeSetup } } : {}),
    });
    await waitFor(async () => {
      const current = await client.getSession(session.id);
      return current.turns === 1 && current.status === 'idle' ? true : undefined;
    }, 'the setup turn');
    const checkpoints = await client.call<{ checkpoints: Array<{ transcriptEntries: number; sizeBytes: number }> }>(
      'GET',
      `/v1/sessions/${session.id}/checkpoints`,
    );
    const transcriptEntries = checkpoints.checkpoints[0]?.transcriptEntries ?? 0;
    const checkpointBytes = checkpoints.checkpoints[0]?.sizeBytes ?? 0;

    const hibernateMs: number[] = [];
    const restoreMs: number[] = [];
    const readyMs: number[] = [];
    const turnMs: number[] = [];
    let lastSeq = await client.readEvents(session.id, { after: 0, follow: false, onEvent: () => false });
    for (let cycle = 0; cycle < WAKE_CYCLES; cycle += 1) {
      const hibernateStarted = performance.now();
      const hibernated = await client.call<{ status: string }>('POST', `/v1/sessions/${session.id}/hibernate`);
      hibernateMs.push(performance.now() - hibernateStarted);
      if (hibernated.status !== 'hibernated') throw new Error(`session did not hibernate: ${hibernated.status}`);
      await quiet();
      const started = performance.now();
      let ready: number | undefined;
      let restore: number | undefined;
      const events = client.readEvents(session.id, {
        after: lastSeq,
        onEvent: (event: SessionEventView) => {
          const data = event.data as { type?: string; subtype?: string; restoreMs?: number };
          if (event.type === 'woke') restore = performance.now() - started;
          if (event.type === 'sdk' && data.type === 'system' && data.subtype === 'init') ready = performance.now() - started;
          return event.type === 'turn_completed';
        },
      });
      await client.sendMessage(session.id, `wake ${cycle}`);
      lastSeq = await events;
      turnMs.push(performance.now() - started);
      if (ready === undefined || restore === undefined) throw new Error(`wake events missing: ready ${ready} restore ${restore}`);
      readyMs.push(ready);
      restoreMs.push(restore);
      await waitFor(async () => ((await client.getSession(session.id)).status === 'idle' ? true : undefined), 'idle after wake');
    }

    // Baseline: the same resume with the bare SDK on the host, no sandbox and no workspace restore.
    const bareResumeReadyMs: number[] = [];
    const agentSessionId = (await client.getSession(session.id)).agentSessionId as string;
    const claudeExecutable = resolveBundledClaudeExecutable();
    const sessionStore = createAgentSessionStore(hangar.store.transcripts);
    // The sandboxed CLI ran in /workspace: its transcript is stored under that project key.
    const projectKey = (await hangar.store.transcripts.listSessions('-workspace')).length > 0 ? '-workspace' : undefined;
    for (let cycle = 0; cycle < WAKE_CYCLES; cycle += 1) {
      const home = mkdtempSync(path.join(os.tmpdir(), 'hangar-bench-resume-'));
      await quiet();
      const abort = new AbortController();
      const started = performance.now();
      try {
        for await (const message of query({
          prompt: 'resume',
          options: {
            cwd: home,
            resume: agentSessionId,
            sessionStore: projectKey === undefined ? sessionStore : { ...sessionStore, load: (key) => sessionStore.load({ ...key, projectKey }) },
            abortController: abort,
            pathToClaudeCodeExecutable: claudeExecutable,
            env: {
              PATH: '/usr/local/bin:/usr/bin:/bin',
              HOME: home,
              CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
              ANTHROPIC_BASE_URL: model.url,
              ANTHROPIC_API_KEY: 'sk-bench',
              CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
            },
            tools: ['Bash'],
            allowedTools: ['Bash'],
            permissionMode: 'dontAsk',
            settingSources: [],
          },
        })) {
          if (message.type === 'system' && message.subtype === 'init') {
            bareResumeReadyMs.push(performance.now() - started);
            abort.abort();
          }
        }
      } catch {
        // The abort ends the query with an error once init was seen.
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }

    if (options.wakeOnly === true) {
      const none = {
        replayEvents: 0,
        replayEventsPerSecond: 0,
        replayMegabytesPerSecond: 0,
        live: { sessions: 0, processesPerSession: 0, sandboxRssMbPerSession: 0 },
        hibernated: { processes: 0, sandboxes: 0 },
      };
      return { workspaceBytes: 10 * 1024 * 1024, transcriptEntries, checkpointBytes, hibernateMs, restoreMs, readyMs, turnMs, bareResumeReadyMs, ...none };
    }

    // Event replay: a session log of REPLAY_EVENTS realistic SDK messages, read back over HTTP.
    const replaySession = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'] });
    const payload = { type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text: 'x'.repeat(600) }] }, session_id: replaySession.id };
    for (let offset = 0; offset < REPLAY_EVENTS; offset += 500) {
      await hangar.eventHub.publish(
        replaySession.id,
        Array.from({ length: 500 }, () => ({ type: 'sdk', data: payload })),
      );
    }
    let bytes = 0;
    let count = 0;
    const replayStarted = performance.now();
    await client.readEvents(replaySession.id, {
      after: 0,
      follow: false,
      onEvent: (event) => {
        count += 1;
        bytes += JSON.stringify(event).length;
      },
    });
    const replaySeconds = (performance.now() - replayStarted) / 1000;

    // Live sessions: three long-running sessions with their CLI up, then hibernated.
    model.setScenario({ replies: [], whenExhausted: { text: 'here' } });
    const liveIds: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      const live = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], idleTimeoutSec: 3600, prompt: 'hello' });
      liveIds.push(live.id);
    }
    for (const id of liveIds) await waitFor(async () => ((await client.getSession(id)).status === 'idle' ? true : undefined), 'live session idle');
    const liveSandboxes = sandboxes.slice(-3);
    const pidsPerSandbox = await Promise.all(liveSandboxes.map((sandbox) => sandbox.hostPids()));
    const processesPerSession = pidsPerSandbox.reduce((sum, pids) => sum + pids.length, 0) / liveIds.length;
    const sandboxRssMbPerSession = pidsPerSandbox.reduce((sum, pids) => sum + rssOfPids(pids), 0) / liveIds.length / 1024 / 1024;
    for (const id of [...liveIds, session.id]) await client.call('POST', `/v1/sessions/${id}/hibernate`);
    let remainingProcesses = 0;
    let remainingSandboxes = 0;
    for (const sandbox of liveSandboxes) {
      const pids = await sandbox.hostPids().catch(() => []);
      remainingProcesses += pids.length;
      if (pids.length > 0) remainingSandboxes += 1;
    }

    return {
      workspaceBytes: 10 * 1024 * 1024,
      transcriptEntries,
      checkpointBytes,
      hibernateMs,
      restoreMs,
      readyMs,
      turnMs,
      bareResumeReadyMs,
      replayEvents: count,
      replayEventsPerSecond: count / replaySeconds,
      replayMegabytesPerSecond: bytes / 1024 / 1024 / replaySeconds,
      live: { sessions: liveIds.length, processesPerSession, sandboxRssMbPerSession },
      hibernated: { processes: remainingProcesses, sandboxes: remainingSandboxes + hangar.sessionManager.liveCount },
    };
  } finally {
    await hangar?.close();
    await model.close();
  }
}
