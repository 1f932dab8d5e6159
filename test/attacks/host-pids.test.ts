// Attack: every sandbox forks as many processes as it can. Each sandbox's own pids.max holds its
// fork bomb; the parent group's pids.max must hold the sum of all sandboxes when that sum exceeds
// it (a host with pid_max 32768 ran out with ~64 sandboxes at 512 pids before the parent had one).
// A small ceiling (80) under two sandboxes of 64 pids each shows it.
import { randomBytes } from 'node:crypto';
import { readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectCgroupLayout } from '../../src/sandbox/cgroups.js';
import { createLocalSandboxProvider } from '../../src/sandbox/providers/local.js';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import { makeSandboxRoot } from '../helpers/sandbox-host.js';

const CEILING = 80;
const SANDBOX_PIDS = 64;

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
const roots: string[] = [];

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  const layout = await detectCgroupLayout().catch(() => undefined);
  const hierarchies = layout === undefined ? [] : [layout.unifiedRoot, layout.killRoot, ...Object.values(layout.v1Roots)];
  for (const root of new Set(hierarchies)) if (root !== undefined) await rmdir(path.join(root, parent)).catch(() => undefined);
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

describe.skipIf(!isRoot)('attack: fork bombs in several sandboxes', () => {
  it('the parent\'s pids.max holds the sum of all sandboxes', async () => {
    const rootDir = await makeSandboxRoot();
    roots.push(rootDir);
    const layout = await detectCgroupLayout();
    const parentPidsDir = path.join(layout.version === 'v2' ? layout.unifiedRoot! : layout.v1Roots.pids!, parent);
    const provider = createLocalSandboxProvider({ rootDir, cgroupParent: parent, hostLimits: { pids: CEILING }, workspaceBacking: 'tmpfs', warmPoolSize: 0 });
    const resources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: SANDBOX_PIDS };
    const sandboxes = [await provider.create({ resources, bridges: [] }), await provider.create({ resources, bridges: [] })];
    try {
      expect(await readFile(path.join(parentPidsDir, 'pids.max'), 'utf8')).toBe(`${CEILING}\n`);
      const bombs = sandboxes.map((sandbox) => sandbox.spawn({ command: '/usr/bin/perl', args: ['-e', FORK_SCRIPT], env: { PATH: '/usr/bin:/bin' } }));
      const reports: string[] = [];
      // One after the other: the first meets its own limit, the second the parent's.
      for (const bomb of bombs) {
        const report = firstLine(bomb);
        bomb.stdin.write('go\n');
        reports.push(await report);
      }
      const current = Number((await readFile(path.join(parentPidsDir, 'pids.current'), 'utf8')).trim());
      const forks = reports.map((report) => Number(/forks=(\d+)/.exec(report)?.[1]));
      console.log(`fork bombs: ${reports.join(' | ')}; parent pids.current ${current}/${CEILING}`);
      for (const bomb of bombs) bomb.stdin.end();
      await Promise.all(bombs.map((bomb) => new Promise((resolve) => (bomb.exitCode !== null ? resolve(undefined) : bomb.once('exit', resolve)))));

      expect(current).toBeLessThanOrEqual(CEILING);
      // Both met a limit; the second got fewer processes than its own pids.max allowed the first.
      for (const report of reports) expect(report).toMatch(/error=Resource temporarily unavailable/);
      expect(forks[1]).toBeLessThan(forks[0]!);
      expect(forks[0]! + forks[1]!).toBeLessThan(CEILING);
    } finally {
      for (const sandbox of sandboxes) await sandbox.destroy();
      await provider.close();
    }
  }, 120_000);
});
