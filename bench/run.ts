// `npm run bench`: measures Hangar on this machine and writes BENCHMARKS.md.
//  1. local sandbox create + destroy, p50/p95, with ext4 and with tmpfs workspaces;
//  2. one hosted task through the HTTP API against the bare SDK query() (no sandbox, no gateway),
//     same scripted scenario and CLI options, interleaved in the same run; the ratio of medians is
//     the overhead. Each run starts on a quiet host (Hangar's background work finished), and the
//     host CPU each task costs (background work included) is reported next to it.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { query } from '@anthropic-ai/claude-agent-sdk';
import pino from 'pino';
import { readAdminKey } from '../src/auth/admin-key.js';
import { createHangar } from '../src/app.js';
import { HangarClient } from '../src/client/hangar-client.js';
import { parseConfig } from '../src/config/config.js';
import type { Scenario } from '../src/model/scenario.js';
import { startScriptedModelServer } from '../src/model/scripted-model-server.js';
import { resolveBundledClaudeExecutable } from '../src/runner/agent-runner.js';
import { createLocalSandboxProvider, type LocalSandboxProvider, type WorkspaceBacking } from '../src/sandbox/providers/local/index.js';
import { benchNetwork } from './network-bench.js';
import { networkSection, networkSummary } from './network-report.js';
import { benchSessions } from './sessions-bench.js';
import { benchHomeCache, NPM_CACHE_SCRIPT } from './home-cache-bench.js';

const SANDBOX_RUNS = Number(process.env.BENCH_SANDBOX_RUNS ?? 200);
const TASK_RUNS = Number(process.env.BENCH_TASK_RUNS ?? 20);
/** Untimed pause between sandbox runs: about what a short task takes. */
const SANDBOX_GAP_MS = 50;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

const fixed = (value: number, digits = 1): string => value.toFixed(digits);

/** A scenario that makes the agent use a tool once, then answer: three model calls in all. */
const TASK_SCENARIO: Scenario = {
  replies: [
    { content: [{ type: 'tool_use', name: 'Bash', input: { command: 'echo benchmark > out.txt && cat out.txt' } }] },
    { content: [{ type: 'text', text: 'done' }] },
  ],
};

/** p50 target of create + destroy per workspace backing. */
const SANDBOX_TARGET_MS: Record<WorkspaceBacking, number> = { tmpfs: 10, ext4: 10 };

/** CPU time used on the whole host so far (all processes and the kernel), in ms, from /proc/stat. */
function hostCpuMs(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
  // USER_HZ is 100 on Linux.
  return ((user + nice + system + irq + softirq) * 1000) / 100;
}

/**
 * Creates and destroys sandboxes. `gapMs` is an untimed pause between runs, standing for the task
 * that runs in between (it lets the pools refill, as they do in service); 0 runs back to back.
 * With `warmPoolSize`, create() takes a ready sandbox from the warm pool.
 */
async function benchSandboxes(
  root: string,
  workspaceBacking: WorkspaceBacking,
  gapMs: number,
  warmPoolSize = 0,
): Promise<{ p50: number; p95: number; mean: number }> {
  const provider = createLocalSandboxProvider({ rootDir: root, uidRangeStart: 300000, uidRangeSize: 1000, workspaceBacking, warmPoolSize });
  const resources = { memoryMb: 1024, cpus: 1, diskMb: 1024, pids: 512 };
  // Warm-up: preflight checks and first-time cgroup parents.
  for (let index = 0; index < 5; index += 1) await (await provider.create({ resources, bridges: [] })).destroy();
  const durations: number[] = [];
  for (let index = 0; index < SANDBOX_RUNS; index += 1) {
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    const started = performance.now();
    const sandbox = await provider.create({ resources, bridges: [] });
    await sandbox.destroy();
    durations.push(performance.now() - started);
  }
  await provider.close();
  return { p50: percentile(durations, 50), p95: percentile(durations, 95), mean: durations.reduce((a, b) => a + b, 0) / durations.length };
}

interface TaskBench {
  hosted: number[];
  bare: number[];
  /** The same runs back to back, with no wait for a quiet host: background work overlaps the next run. */
  hostedBackToBack: number[];
  bareBackToBack: number[];
  /** Host CPU per run (all processes and the kernel, background work included), ms. */
  hostedCpuMs: number[];
  bareCpuMs: number[];
}

async function benchTasks(dataDir: string): Promise<TaskBench> {
  const model = await startScriptedModelServer({ scenario: TASK_SCENARIO, host: '127.0.0.1', port: 0, logger: false });
  const config = parseConfig({
    dataDir,
    logLevel: 'silent',
    server: { host: '127.0.0.1', port: 0 },
    // The bench polls the API as fast as it can: the per-tenant request rate limit is not what it measures.
    auth: { rateLimit: { requestsPerSecond: 100_000, burst: 100_000 } },
    gateway: { upstreamUrl: model.url, upstreamApiKey: 'sk-bench' },
    sandbox: { uidRangeStart: 301000, uidRangeSize: 100 },
  });
  const hangar = await createHangar(config, { logger: pino({ level: 'silent' }) });
  const client = new HangarClient(await hangar.listen(), { apiKey: await readAdminKey(dataDir) });
  const claudeExecutable = resolveBundledClaudeExecutable();
  const result: TaskBench = { hosted: [], bare: [], hostedBackToBack: [], bareBackToBack: [], hostedCpuMs: [], bareCpuMs: [] };
  const provider = hangar.sandboxProvider as LocalSandboxProvider;
  /** Waits until Hangar's background work (pool refills, filesystem releases) is done, then a little more for the kernel's. */
  const quiet = async (): Promise<void> => {
    await provider.settled();
    await new Promise((resolve) => setTimeout(resolve, 100));
  };

  const runHosted = async (): Promise<number> => {
    model.setScenario(TASK_SCENARIO);
    const started = performance.now();
    const task = await client.runTask({ prompt: 'write out.txt', allowedTools: ['Bash'], maxTurns: 4, resources: { cpus: os.cpus().length } });
    const elapsed = performance.now() - started;
    if (task.status !== 'succeeded') throw new Error(`hosted task failed: ${JSON.stringify(task.error)}`);
    return elapsed;
  };
  const runBare = async (): Promise<number> => {
    model.setScenario(TASK_SCENARIO);
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'hangar-bench-bare-'));
    const home = mkdtempSync(path.join(os.tmpdir(), 'hangar-bench-home-'));
    try {
      const started = performance.now();
      let result: string | undefined;
      for await (const message of query({
        prompt: 'write out.txt',
        options: {
          cwd,
          pathToClaudeCodeExecutable: claudeExecutable,
          // The CLI options and environment Hangar gives the CLI (agent-runner.ts), minus the sandbox.
          env: {
            PATH: '/usr/local/bin:/usr/bin:/bin',
            HOME: home,
            CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
            LANG: 'C.UTF-8',
            ANTHROPIC_BASE_URL: model.url,
            ANTHROPIC_API_KEY: 'sk-bench',
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
            DISABLE_AUTOUPDATER: '1',
            DISABLE_TELEMETRY: '1',
            DISABLE_ERROR_REPORTING: '1',
            CLAUDE_CODE_MAX_RETRIES: String(config.agent.maxRetries),
          },
          tools: ['Bash'],
          allowedTools: ['Bash'],
          permissionMode: 'dontAsk',
          settingSources: [],
          systemPrompt: { type: 'preset', preset: 'claude_code' },
          maxTurns: 4,
        },
      })) {
        if (message.type === 'result') result = message.subtype;
      }
      const elapsed = performance.now() - started;
      if (result !== 'success') throw new Error(`bare query failed: ${result}`);
      return elapsed;
    } finally {
      rmSync(cwd, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  };

  /** Runs one task on a quiet host; returns its time and the host CPU it cost until the host is quiet again. */
  const measured = async (run: () => Promise<number>): Promise<{ ms: number; cpuMs: number }> => {
    await quiet();
    const cpuBefore = hostCpuMs();
    const ms = await run();
    await quiet();
    return { ms, cpuMs: hostCpuMs() - cpuBefore };
  };

  try {
    // Warm-up of both paths (page cache of the 400 MB CLI binary, JIT, the warm pool).
    await measured(runHosted);
    await measured(runBare);
    for (let index = 0; index < TASK_RUNS; index += 1) {
      // Interleaved so that drift of the machine affects both sides alike.
      const hostedRun = await measured(runHosted);
      const bareRun = await measured(runBare);
      result.hosted.push(hostedRun.ms);
      result.hostedCpuMs.push(hostedRun.cpuMs);
      result.bare.push(bareRun.ms);
      result.bareCpuMs.push(bareRun.cpuMs);
    }
    await quiet();
    for (let index = 0; index < TASK_RUNS; index += 1) {
      result.hostedBackToBack.push(await runHosted());
      result.bareBackToBack.push(await runBare());
    }
  } finally {
    await hangar.close();
    await model.close();
  }
  return result;
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'hangar-bench-'));
  chmodSync(workDir, 0o711);
  try {
    const sandboxes = [] as Array<{ backing: WorkspaceBacking; warm: boolean; gapMs: number; p50: number; p95: number; mean: number }>;
    const variants: Array<{ backing: WorkspaceBacking; warm: boolean; gapMs: number }> = [
      ...(['ext4', 'tmpfs'] as const).flatMap((backing) => [SANDBOX_GAP_MS, 0].map((gapMs) => ({ backing, warm: false, gapMs }))),
      { backing: 'ext4', warm: true, gapMs: SANDBOX_GAP_MS },
    ];
    for (const { backing, warm, gapMs } of variants) {
      process.stdout.write(`sandbox create+destroy (${backing}${warm ? ', warm pool' : ''}, ${gapMs} ms apart) x${SANDBOX_RUNS}...\n`);
      const sandbox = await benchSandboxes(path.join(workDir, `sandboxes-${backing}-${gapMs}-${warm}`), backing, gapMs, warm ? 2 : 0);
      process.stdout.write(`  p50 ${fixed(sandbox.p50, 2)} ms, p95 ${fixed(sandbox.p95, 2)} ms\n`);
      sandboxes.push({ backing, warm, gapMs, ...sandbox });
    }
    process.stdout.write(`hosted task vs bare query() x${TASK_RUNS}...\n`);
    const tasks = await benchTasks(path.join(workDir, 'data'));
    const hostedP50 = percentile(tasks.hosted, 50);
    const bareP50 = percentile(tasks.bare, 50);
    const ratio = hostedP50 / bareP50;
    const hostedCpuP50 = percentile(tasks.hostedCpuMs, 50);
    const bareCpuP50 = percentile(tasks.bareCpuMs, 50);
    const backToBackRatio = percentile(tasks.hostedBackToBack, 50) / percentile(tasks.bareBackToBack, 50);
    process.stdout.write(
      `  hosted p50 ${fixed(hostedP50)} ms, bare p50 ${fixed(bareP50)} ms, ratio ${fixed(ratio, 3)} (back to back ${fixed(backToBackRatio, 3)}); ` +
        `host CPU per task ${fixed(hostedCpuP50, 0)} vs ${fixed(bareCpuP50, 0)} ms\n`,
    );

    process.stdout.write('sessions: hibernate/wake, replay, memory...\n');
    const sessions = await benchSessions(path.join(workDir, 'sessions'));
    const wakeReadyP50 = percentile(sessions.readyMs, 50);
    process.stdout.write(
      `  hibernate p50 ${fixed(percentile(sessions.hibernateMs, 50))} ms, restore p50 ${fixed(percentile(sessions.restoreMs, 50))} ms, ` +
        `ready p50 ${fixed(wakeReadyP50)} ms, replay ${fixed(sessions.replayEventsPerSecond, 0)} events/s\n`,
    );

    process.stdout.write('checkpoints with a realistic HOME (npm cache)...\n');
    const homeCache = await benchHomeCache(path.join(workDir, 'home-cache'), 10);
    const archivedWake = await benchSessions(path.join(workDir, 'home-archived'), { homeSetup: NPM_CACHE_SCRIPT, homeExcludes: ['.cache'], wakeOnly: true });
    const excludedWake = await benchSessions(path.join(workDir, 'home-excluded'), { homeSetup: NPM_CACHE_SCRIPT, wakeOnly: true });
    const homeRows = [
      { name: 'npm cache archived (`checkpointHomeExcludes: [".cache"]`)', snapshot: homeCache.withCache, wake: archivedWake },
      { name: 'npm cache excluded (the default)', snapshot: homeCache.excluded, wake: excludedWake },
    ].map(({ name, snapshot, wake }) => {
      const bare = percentile(wake.bareResumeReadyMs, 50);
      const ready = percentile(wake.readyMs, 50);
      return (
        `| ${name} | ${fixed(snapshot.archiveBytes / 1024 / 1024, 2)} MiB | ${fixed(percentile(snapshot.snapshotMs, 50))} ms (${fixed(percentile(snapshot.snapshotMs, 50) / bare, 3)}) ` +
        `| ${fixed(percentile(snapshot.restoreMs, 50))} ms | ${fixed(wake.checkpointBytes / 1024 / 1024, 2)} MiB | ${fixed(percentile(wake.restoreMs, 50))} ms | ${fixed(ready)} ms | ${fixed(bare)} ms | **${fixed(ready / bare, 3)}** |`
      );
    });
    process.stdout.write(`  ${homeRows.join('\n  ')}\n`);

    process.stdout.write('network: egress proxy and model gateway vs direct...\n');
    const network = await benchNetwork(5);
    process.stdout.write(`  ${networkSummary(network)}\n`);

    const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
    const report = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString()}.

Machine: ${os.cpus().length} × ${cpu}, ${fixed(os.totalmem() / 1024 ** 3)} GiB RAM, Linux ${os.release()}, Node ${process.version}.

## Local sandbox create + destroy

${SANDBOX_RUNS} runs per variant after 5 warm-up runs, 1 GiB of disk; each creates a sandbox
(workspace and scratch filesystems, cgroups, passwd files, uid reservation) and destroys it (kill,
cgroup removal, unmount, directory removal). No process starts. ext4 (the default): two sparse
images, formatted and loop-mounted ahead of need by a small pool, so create only moves a pair in.
tmpfs: two tmpfs mounts (faster, but the files count against the sandbox's memory). Warm pool (the
service's default, \`sandbox.warmPoolSize\`): create takes a sandbox made ahead of need, with its
first launch chain already started, and only sets its limits; the pool refills in the background.

Runs are either ${SANDBOX_GAP_MS} ms apart (an untimed pause standing for the task in between, as in service) or back to
back (each destroy then competes with the pools refilling).

| backing | runs | p50 | p95 | mean | target |
| --- | --- | --- | --- | --- | --- |
${sandboxes.map((row) => `| ${row.backing}${row.warm ? ', warm pool' : ''} | ${row.gapMs > 0 ? `${row.gapMs} ms apart` : 'back to back'} | ${fixed(row.p50, 2)} ms | ${fixed(row.p95, 2)} ms | ${fixed(row.mean, 2)} ms | p50 ≤ ${SANDBOX_TARGET_MS[row.backing]} ms |`).join('\n')}

## Hosted task vs bare SDK query()

The same scripted scenario (one Bash tool call, then an answer: two model calls) run ${TASK_RUNS} times each,
interleaved, after one warm-up of each, with the same CLI options (tools, permission mode, the
\`claude_code\` system prompt, no setting sources) and environment variables:
- **hosted**: \`POST /v1/tasks\` over HTTP with Hangar's defaults: a sandbox from the warm pool, the CLI
  inside bubblewrap, model calls through the socat bridge and the gateway, workspace diff, sandbox
  destroy, SQLite records;
- **baseline**: the Agent SDK's \`query()\` on the host, no sandbox, the CLI talking to the model directly.

Each run starts on a quiet host: Hangar's background work of the previous run (refilling the pools,
releasing filesystems) is finished first, as it is when tasks do not arrive back to back on every
core. That work is not free, so the host CPU each task costs is measured too, from the run's start
until the host is quiet again (all processes and the kernel, from /proc/stat).

| | p50 | p95 | host CPU per task (p50) |
| --- | --- | --- | --- |
| hosted | ${fixed(hostedP50)} ms | ${fixed(percentile(tasks.hosted, 95))} ms | ${fixed(hostedCpuP50, 0)} ms |
| bare query() | ${fixed(bareP50)} ms | ${fixed(percentile(tasks.bare, 95))} ms | ${fixed(bareCpuP50, 0)} ms |
| **ratio (p50 hosted / p50 bare)** | **${fixed(ratio, 3)}** | target ≤ 1.10 | |

The same ${TASK_RUNS} + ${TASK_RUNS} runs again back to back, without waiting for a quiet host: each hosted run then
shares the CPU with the pool refilling after it, and each bare run with the release of the
previous hosted run's filesystems.

| | p50 | p95 |
| --- | --- | --- |
| hosted, back to back | ${fixed(percentile(tasks.hostedBackToBack, 50))} ms | ${fixed(percentile(tasks.hostedBackToBack, 95))} ms |
| bare query(), back to back | ${fixed(percentile(tasks.bareBackToBack, 50))} ms | ${fixed(percentile(tasks.bareBackToBack, 95))} ms |
| ratio (p50 hosted / p50 bare) | ${fixed(percentile(tasks.hostedBackToBack, 50) / percentile(tasks.bareBackToBack, 50), 3)} | |

## Sessions: hibernate and wake

A long-running session whose workspace holds ${sessions.workspaceBytes / 1024 / 1024} MB of random data (incompressible) and whose
transcript has ${sessions.transcriptEntries} entries, hibernated and woken ${sessions.hibernateMs.length} times. Each wake is a
message to the hibernated session: a sandbox from the warm pool, the workspace unpacked from its
checkpoint, the CLI resumed from the transcript in the SessionStore (the SDK's copy of it reaches the
sandbox's /tmp, and the CLI starts in the launcher waiting there), one model call. Like the tasks,
each wake (and each baseline run) starts on a quiet host: a hibernated session has been idle a while.
The session may use all cores (as the bare baseline does): with the default quota of 1 CPU, the CLI's
start and the workspace unpacking share one core and a wake takes about 20% longer.

| step | p50 | p95 |
| --- | --- | --- |
| hibernate (\`POST .../hibernate\`: CLI stopped, sandbox destroyed) | ${fixed(percentile(sessions.hibernateMs, 50))} ms | ${fixed(percentile(sessions.hibernateMs, 95))} ms |
| wake: sandbox created and workspace restored (\`woke\` event) | ${fixed(percentile(sessions.restoreMs, 50))} ms | ${fixed(percentile(sessions.restoreMs, 95))} ms |
| **wake: resumed CLI ready (its \`init\` message)** | **${fixed(wakeReadyP50)} ms** | ${fixed(percentile(sessions.readyMs, 95))} ms |
| wake + the turn itself | ${fixed(percentile(sessions.turnMs, 50))} ms | ${fixed(percentile(sessions.turnMs, 95))} ms |
| baseline: bare SDK \`query()\` resuming the same transcript on the host, no sandbox -> \`init\` | ${fixed(percentile(sessions.bareResumeReadyMs, 50))} ms | ${fixed(percentile(sessions.bareResumeReadyMs, 95))} ms |

Target: wake ≤ 300 ms. Most of a wake is the Claude Code CLI starting and reading its transcript,
which the baseline row measures on its own; the workspace is unpacked while the CLI starts.

## Checkpoints with a realistic HOME

A checkpoint holds the workspace and HOME. HOME here holds an npm cache as \`npm cache add\` of a few
dozen packages leaves it: ${homeCache.cacheFiles} files, ${fixed(homeCache.cacheBytes / 1024 / 1024, 1)} MiB on disk (${homeCache.cacheFiles / 2} compressed
tarballs with the size distribution of a real \`~/.npm/_cacache\`, and their index entries). The
snapshot columns are the checkpoint of that sandbox alone (tar + zstd inside, stored, verified on
the host; p50 of ${homeCache.withCache.snapshotMs.length}; in parentheses as a ratio to the bare-SDK resume baseline of the same row) and its
restore into a new sandbox. The wake columns are a long-running session as in the section above
(10 MB workspace, 200+ transcript entries) whose setup turn also filled HOME with that cache,
hibernated and woken ${archivedWake.readyMs.length} times, against the bare SDK resuming the same transcript on the host
in the same run.

| HOME | snapshot size | snapshot p50 (/ bare resume) | restore p50 | session checkpoint | wake: restored (\`woke\`) p50 | wake: CLI ready p50 | bare resume p50 | **wake / bare** |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${homeRows.join('\n')}

The cache costs every checkpoint its full size (tarballs do not compress) and its restore time on
every wake, hybrid turn and fork, so \`~/.npm/_cacache\` and \`~/.cache\` are excluded by default.

## Sessions: event replay and host cost

| measure | value |
| --- | --- |
| replay of ${sessions.replayEvents} stored events over HTTP SSE (\`?follow=false\`) | ${fixed(sessions.replayEventsPerSecond, 0)} events/s, ${fixed(sessions.replayMegabytesPerSecond, 1)} MB/s |
| live long-running session (CLI up, idle): processes in its sandbox | ${fixed(sessions.live.processesPerSession, 1)} |
| live long-running session: resident memory of its sandbox's processes | ${fixed(sessions.live.sandboxRssMbPerSession, 0)} MB |
| hibernated sessions (${sessions.live.sessions + 1}): processes left | ${sessions.hibernated.processes} (target 0) |
| hibernated sessions: sandboxes left | ${sessions.hibernated.sandboxes} |

${networkSection(network)}`;
    writeFileSync(path.join(process.cwd(), 'BENCHMARKS.md'), report);
    process.stdout.write('wrote BENCHMARKS.md\n');
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
