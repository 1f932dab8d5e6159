// Attack: every sandbox forks as many processes as it can. Each sandbox's own pids.max holds its
// fork bomb, and the parent group's pids ceiling is shared out without overcommit: live sandboxes
// reserve their pids limits, a sandbox that would not fit is refused (CAPACITY_EXCEEDED), so one
// bomb never takes the pids another sandbox's CLI needs (with overcommit it did: the other CLI
// could not start a thread and aborted with code 134). Run twice: by processes the test spawns in
// sandboxes of the provider, and by two real agents through their Bash tools in two concurrent
// tasks, each fork-bombing its own sandbox under a harness with a parent group of its own.
import { randomBytes } from 'node:crypto';
import { readFile, rm, rmdir } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { detectCgroupLayout } from '../../src/sandbox/cgroups.js';
import { HangarError } from '../../src/errors/errors.js';
import { createLocalSandboxProvider, type LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import { cliSpawns, eventually, startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';
import { makeSandboxRoot } from '../helpers/sandbox-host.js';

const CEILING = 80;
const SANDBOX_PIDS = 40;

/**
 * Waits for a line on stdin, then forks sleeping children until fork fails and prints how many it
 * made; holds them until stdin closes, then kills them.
 */
const FORK_SCRIPT = String.raw`
use strict; use warnings; $| = 1;
<STDIN>;
my @kids; my $error = '';
while (1) { my $pid = fork(); if (!defined $pid) { $error = "$!"; last } if ($pid == 0) { sleep 600; exit 0 } push @kids, $pid; last if @kids >= 1000 }
print "forks=", scalar(@kids), " error=$error\n";
<STDIN>;
kill 'KILL', @kids; waitpid($_, 0) for @kids;
`;

const isRoot = process.getuid?.() === 0;
const parent = `hangar-test-pids-${randomBytes(4).toString('hex')}`;
/** The agents' harness has a parent group of its own: the host's real `hangar` ceiling is never touched. */
const agentParent = `hangar-test-pids-agent-${randomBytes(4).toString('hex')}`;
const roots: string[] = [];

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  const layout = await detectCgroupLayout().catch(() => undefined);
  const hierarchies = layout === undefined ? [] : [layout.unifiedRoot, layout.killRoot, ...Object.values(layout.v1Roots)];
  for (const root of new Set(hierarchies)) {
    if (root === undefined) continue;
    for (const name of [parent, agentParent]) await rmdir(path.join(root, name)).catch(() => undefined);
  }
});

/** Resolves with the first line the process prints. */
function firstLine(child: SpawnedProcess): Promise<string> {
  let output = '';
  child.stdout.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('\n')) resolve(output.trim());
    });
    child.once('exit', (code) => reject(new Error(`the fork bomb exited (${code}) before reporting: ${output}`)));
  });
}

/**
 * Forks this group's own limit refused: `max` of pids.events.local where the kernel has it (cgroup v2
 * counts pids.events over the whole subtree there), else of pids.events (v1 counts each group's own).
 */
async function ownLimitHits(dir: string): Promise<number> {
  const local = path.join(dir, 'pids.events.local');
  const text = await readFile(existsSync(local) ? local : path.join(dir, 'pids.events'), 'utf8');
  return Number(/^max (\d+)$/m.exec(text)?.[1]);
}

describe.skipIf(!isRoot)('attack: fork bombs in several sandboxes', () => {
  it("each sandbox meets its own pids.max, never the parent's, and a sandbox that would overcommit the parent is refused", async () => {
    const rootDir = await makeSandboxRoot();
    roots.push(rootDir);
    const layout = await detectCgroupLayout();
    const parentPidsDir = path.join(layout.version === 'v2' ? layout.unifiedRoot! : layout.v1Roots.pids!, parent);
    const provider = createLocalSandboxProvider({ rootDir, cgroupParent: parent, hostLimits: { pids: CEILING }, workspaceBacking: 'tmpfs', warmPoolSize: 0 });
    const resources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: SANDBOX_PIDS };
    // Two sandboxes reserve the whole ceiling (2 x 40 = 80).
    const sandboxes = [await provider.create({ resources, bridges: [] }), await provider.create({ resources, bridges: [] })];
    try {
      expect(await readFile(path.join(parentPidsDir, 'pids.max'), 'utf8')).toBe(`${CEILING}\n`);
      const refused = await provider.create({ resources: { ...resources, pids: 1 }, bridges: [] }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(HangarError);
      expect((refused as HangarError).code).toBe('CAPACITY_EXCEEDED');
      expect((refused as HangarError).retryAfterSec).toBeGreaterThan(0);

      const bombs = sandboxes.map((sandbox) => sandbox.spawn({ command: '/usr/bin/perl', args: ['-e', FORK_SCRIPT], env: { PATH: '/usr/bin:/bin' } }));
      // One after the other: the first holds every pid its sandbox may have while the second forks.
      const reports: string[] = [];
      for (const bomb of bombs) {
        const report = firstLine(bomb);
        bomb.stdin.write('go\n');
        reports.push(await report);
      }
      const current = Number((await readFile(path.join(parentPidsDir, 'pids.current'), 'utf8')).trim());
      const sandboxPidsDirs = sandboxes.map((sandbox) => (sandbox as LocalSandbox).cgroupPaths.find((dir) => dir.startsWith(`${parentPidsDir}/`))!);
      const sandboxHits = await Promise.all(sandboxPidsDirs.map(ownLimitHits));
      const parentHits = await ownLimitHits(parentPidsDir);
      const forks = reports.map((report) => Number(/forks=(\d+)/.exec(report)?.[1]));
      console.log(
        `fork bombs: ${reports.join(' | ')}; parent pids.current ${current}/${CEILING}; own-limit hits: sandboxes ${sandboxHits.join(', ')}, parent ${parentHits}`,
      );
      for (const bomb of bombs) bomb.stdin.end();
      await Promise.all(bombs.map((bomb) => new Promise((resolve) => (bomb.exitCode !== null ? resolve(undefined) : bomb.once('exit', resolve)))));

      for (const report of reports) expect(report).toMatch(/error=Resource temporarily unavailable/);
      // Each bomb met its own sandbox's limit; none met the parent's, and the second sandbox, with
      // the first full, got as many processes as the first.
      for (const hits of sandboxHits) expect(hits).toBeGreaterThan(0);
      expect(parentHits).toBe(0);
      expect(forks[1]).toBe(forks[0]);
      expect(forks[0]).toBeGreaterThan(SANDBOX_PIDS - 8);
      expect(current).toBeLessThanOrEqual(CEILING);

      // A destroyed sandbox gives its share back.
      await sandboxes.shift()!.destroy();
      sandboxes.push(await provider.create({ resources, bridges: [] }));
    } finally {
      for (const sandbox of sandboxes) await sandbox.destroy();
      await provider.close();
    }
  }, 120_000);
});

/** Ceiling of the agents' parent group: room for two sandboxes at their own limits (2 x 64), not three. */
const AGENT_CEILING = 150;
const AGENT_SANDBOX_PIDS = 64;
/** Seconds each agent's bomb holds its children: long enough for both bombs to overlap. */
const AGENT_BOMB_SEC = 25;
/** Children each bomb lets go once fork fails, so that its own sandbox's CLI can still start threads. */
const AGENT_BOMB_MARGIN = 20;

/**
 * Forks sleeping children until fork fails, prints how many it had then (held) and the error, lets
 * <margin> of them go, holds the rest for <seconds>, then kills and reaps them all. The margin is
 * what keeps the bomb's own CLI alive: a CLI that cannot start a thread aborts with code 134 (a
 * sandbox's agent can end its own task that way; it cannot end another's).
 */
const AGENT_FORK_SCRIPT = String.raw`
use strict; use warnings; use POSIX (); $| = 1;
my ($seconds, $margin) = @ARGV; my @kids; my $error = '';
while (1) { my $pid = fork(); if (!defined $pid) { $error = "$!"; last } if ($pid == 0) { sleep $seconds + 30; POSIX::_exit(0) } push @kids, $pid; last if @kids >= 1000 }
my $held = @kids;
my @freed = splice(@kids, 0, $margin); kill 'KILL', @freed; waitpid($_, 0) for @freed;
sleep $seconds;
kill 'KILL', @kids; waitpid($_, 0) for @kids;
print "held=$held error=$error\n";
`;

/**
 * Host processes running as a uid, zombies aside, other than those in a sandbox group of another
 * parent: uids are reserved host-wide, so once this test's sandbox is gone, a test file running
 * alongside may hand its uid to a sandbox of its own.
 */
function processesOf(uid: number, parentName: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'uid=,pid=,stat=,comm='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => {
    const [owner, pid, state] = line.trim().split(/\s+/);
    if (Number(owner) !== uid || state?.startsWith('Z')) return false;
    const groups = (() => {
      try {
        return readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      } catch {
        return '';
      }
    })();
    const pidsGroup = /^\d+:(?:pids)?:(\/.*)$/m.exec(groups.split('\n').find((entry) => /:pids:|^0::/.test(entry)) ?? '')?.[1] ?? '/';
    const otherParent = /^\/([^/]+)\/[^/]+/.exec(pidsGroup)?.[1];
    return otherParent === undefined || otherParent === parentName;
  });
}

const readCount = (file: string): Promise<number> => readFile(file, 'utf8').then((text) => Number(text.trim()));

describe.skipIf(!isRoot)('attack: fork bombs by two agents through Bash, at once', () => {
  let harness: Harness;
  let parentPidsDir: string;
  let tasks: TaskView[];
  /** Parent pids.current and each live sandbox's pids.current (by sandbox id), sampled during the tasks. */
  const samples: Array<{ parent: number; sandboxes: Record<string, number> }> = [];
  /** Forks each sandbox's own pids.max refused (by sandbox id), as last sampled. */
  const sandboxHits: Record<string, number> = {};

  beforeAll(async () => {
    const layout = await detectCgroupLayout();
    parentPidsDir = path.join(layout.version === 'v2' ? layout.unifiedRoot! : layout.v1Roots.pids!, agentParent);
    harness = await startHarness({
      scenario: { replies: [] },
      cgroupParent: agentParent,
      config: {
        sandbox: {
          // No warm sandboxes: every process in the parent group belongs to one of the two tasks.
          warmPoolSize: 0,
          hostLimits: { pids: AGENT_CEILING },
          defaults: { memoryMb: 512, cpus: 1, diskMb: 64, pids: AGENT_SANDBOX_PIDS },
        },
      },
    });
    const command = `cat > /tmp/bomb.pl <<'EOF'\n${AGENT_FORK_SCRIPT}\nEOF\nperl /tmp/bomb.pl ${AGENT_BOMB_SEC} ${AGENT_BOMB_MARGIN}; echo "bomb-exit=$?"`;
    harness.model.setScenario({
      replies: [
        {
          match: { lastUserText: 'Fork bomb' },
          times: 2,
          content: [{ type: 'tool_use', name: 'Bash', input: { command, description: 'fork bomb', timeout: 120_000 } }],
        },
        // Any request that carries a tool result (the bomb's report, or the failure to run it).
        { match: { lastToolResult: '' }, times: 2, content: [{ type: 'text', text: 'fork bomb done' }] },
      ],
    });
    const pidsDirOf = (sandboxId: string): string | undefined =>
      (harness.sandboxes.get(sandboxId)?.sandbox as LocalSandbox | undefined)?.cgroupPaths.find((dir) => dir.startsWith(`${parentPidsDir}/`));
    let finished = false;
    const running = Promise.all([1, 2].map(() => harness.client.runTask({ prompt: 'Fork bomb your sandbox.', allowedTools: ['Bash'], maxTurns: 4 }))).finally(
      () => {
        finished = true;
      },
    );
    // Awaited below; a failed sample must not leave its rejection unhandled.
    running.catch(() => undefined);
    while (!finished) {
      // The parent group appears with the first sandbox.
      const sample = { parent: await readCount(path.join(parentPidsDir, 'pids.current')).catch(() => 0), sandboxes: {} as Record<string, number> };
      for (const { sandboxId } of cliSpawns(harness)) {
        const dir = pidsDirOf(sandboxId);
        if (dir === undefined) continue;
        await readCount(path.join(dir, 'pids.current')).then(
          (count) => (sample.sandboxes[sandboxId] = count),
          () => undefined,
        );
        await ownLimitHits(dir).then(
          (hits) => (sandboxHits[sandboxId] = Math.max(hits, sandboxHits[sandboxId] ?? 0)),
          () => undefined,
        );
      }
      samples.push(sample);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    tasks = await running;
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  it("each agent's bomb meets its own sandbox's pids.max, never the parent's", async () => {
    const reports = toolResultsSent(harness.model);
    const peak = Math.max(...samples.map((sample) => sample.parent));
    const sandboxPeaks = Object.fromEntries(
      cliSpawns(harness).map(({ sandboxId }) => [sandboxId, Math.max(0, ...samples.map((sample) => sample.sandboxes[sandboxId] ?? 0))]),
    );
    const parentHits = await ownLimitHits(parentPidsDir);
    console.log(
      `agent fork bombs: ${reports.map((report) => report.trim().replace(/\n/g, ' ')).join(' | ')}; ${samples.length} samples: parent pids.current peak ${peak}/${AGENT_CEILING}, ` +
        `sandbox peaks ${JSON.stringify(Object.values(sandboxPeaks))}/${AGENT_SANDBOX_PIDS}; own-limit hits: sandboxes ${JSON.stringify(Object.values(sandboxHits))}, parent ${parentHits}`,
    );

    expect(await readFile(path.join(parentPidsDir, 'pids.max'), 'utf8')).toBe(`${AGENT_CEILING}\n`);
    expect(reports).toHaveLength(2);
    for (const report of reports) expect(report).toMatch(/held=\d+ error=Resource temporarily unavailable\nbomb-exit=0/);
    expect(Object.keys(sandboxHits)).toHaveLength(2);
    for (const hits of Object.values(sandboxHits)) expect(hits).toBeGreaterThan(0);
    expect(parentHits).toBe(0);
    expect(peak).toBeLessThanOrEqual(AGENT_CEILING);
  });

  it('both tasks finish', () => {
    for (const task of tasks) {
      expect(task.error).toBeNull();
      expect(task.status).toBe('succeeded');
      expect(task.result).toBe('fork bomb done');
    }
    expect(new Set(tasks.map((task) => task.sandbox?.sandboxId)).size).toBe(2);
  });

  it('leaves no process behind', async () => {
    await eventually(async () => ((await readCount(path.join(parentPidsDir, 'pids.current'))) === 0 ? true : undefined), 30_000, 'an empty parent group');
    for (const task of tasks) {
      const sandbox = harness.sandboxes.get(task.sandbox!.sandboxId)!.sandbox as LocalSandbox;
      expect(await sandbox.hostPids().catch(() => [])).toEqual([]);
      expect(processesOf(sandbox.hostUid, agentParent)).toEqual([]);
    }
  });
});
