// Attack (issue 7, findings 1 and 2): a resumed CLI gets its transcript in a directory the Agent SDK
// makes under the host's /tmp and removes, as root, by path, when the CLI exits. When that directory
// was bound writable into the sandbox, an agent could make root delete host files (swapping
// subdirectories with symlinks while the removal walked them) and write to the host disk outside
// its limit. Here the real agent, resumed on a cold wake (no warm sandbox), in a hybrid turn (a
// warm launcher) and after killing its own CLI in a shared sandbox (a new launcher there), attacks its transcript directory: writes 40 MiB into it, plants links to a
// root-owned host canary, and leaves a process swapping its subdirectories with those links while
// the CLI exits. The host's directory must never be the sandbox's, the canary must be unchanged,
// and nothing the sandbox wrote may appear in the host's /tmp.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/client/hangar-client.js';
import { eventually, startHarness, toolResultsSent, waitForTurns, type Harness } from '../helpers/hangar-harness.js';

const UID_START = 200_000;
const UID_END = 210_000;

const bash = (command: string, match: string) => ({
  match: { lastUserText: match },
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step', timeout: 120000 } }],
});
/** A text reply with no match: taken by the next request none of the earlier replies fit (a tool's result). */
const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

/** A root-owned host directory tree and a digest of everything in it. */
function makeCanary(): { dir: string; digest: () => string } {
  const dir = mkdtempSync('/tmp/hangar-canary-');
  for (const sub of ['a', 'b', 'b/c']) mkdirSync(path.join(dir, sub));
  for (const file of ['one', 'a/two', 'b/three', 'b/c/four']) writeFileSync(path.join(dir, file), `canary ${file}\n`);
  const digest = (): string => {
    const hash = createHash('sha256');
    const walk = (current: string): void => {
      for (const entry of readdirSync(current, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
        const full = path.join(current, entry.name);
        hash.update(`${full}\n`);
        if (entry.isDirectory()) walk(full);
        else hash.update(readFileSync(full));
      }
    };
    walk(dir);
    return hash.digest('hex');
  };
  return { dir, digest };
}

/** The attack, run by the agent with Bash inside its sandbox, against the directory its CLI resumed from. */
function attack(canary: string): string {
  const swapper = [
    'my ($dir, $canary) = @ARGV; my $end = time + 90;',
    'while (time < $end) { for my $i (1 .. 4) {',
    '  syscall(316, -100, "$dir/projects/d$i", -100, "$dir/projects/l$i", 2);',
    '} }',
  ].join(' ');
  return [
    'd="$CLAUDE_CONFIG_DIR"',
    'echo "dir=$d owner=$(stat -c %U "$d")"',
    'echo "mounted=$(grep -c " $d " /proc/self/mountinfo)"',
    'dd if=/dev/zero of="$d/pwned.bin" bs=1M count=40 status=none && echo wrote-40-MiB',
    `ln -s ${canary} "$d/link-to-canary"`,
    'for i in 1 2 3 4; do mkdir -p "$d/projects/d$i/x/y" && touch "$d/projects/d$i/x/y/f" && ' + `ln -s ${canary} "$d/projects/l$i"; done`,
    `setsid nohup perl -e '${swapper}' "$d" ${canary} >/dev/null 2>&1 < /dev/null &`,
    'echo attack-started',
  ].join('\n');
}

/** Host /tmp entries owned by a sandbox uid, and any host file named pwned.bin under /tmp/claude-resume-*. */
async function hostTmpFindings(): Promise<string[]> {
  const findings: string[] = [];
  for (const entry of await readdir('/tmp')) {
    const full = path.join('/tmp', entry);
    const info = await lstat(full).catch(() => undefined);
    if (info !== undefined && info.uid >= UID_START && info.uid < UID_END) findings.push(`sandbox-owned ${full}`);
    if (entry.startsWith('claude-resume-') && existsSync(path.join(full, 'pwned.bin'))) findings.push(`sandbox data in ${full}`);
  }
  return findings;
}

describe.each([
  { name: 'a cold wake of a long-running session', pattern: 'long-running' as const, warmPoolSize: 0, shared: false },
  { name: 'a hybrid turn served by a warm launcher', pattern: 'hybrid' as const, warmPoolSize: 2, shared: false },
  { name: 'a CLI restart in a shared sandbox', pattern: 'long-running' as const, warmPoolSize: 2, shared: true },
])('attack: the resumed transcript directory, on $name', ({ pattern, warmPoolSize, shared }) => {
  let harness: Harness;
  let canary: ReturnType<typeof makeCanary>;
  let canaryDigest: string;
  let report: string;
  const findingsDuringAttack: string[] = [];

  beforeAll(async () => {
    canary = makeCanary();
    canaryDigest = canary.digest();
    harness = await startHarness({ scenario: { replies: [] }, config: { sandbox: { warmPoolSize } } });
    harness.model.setScenario({
      replies: [
        bash('echo first turn > notes.txt && echo ok', 'first'),
        say('noted'),
        // The agent kills its own CLI: the next message restarts it, resumed, in the same sandbox.
        bash('kill -9 $PPID', 'crash'),
        bash(attack(canary.dir), 'attack'),
        say('attacked'),
      ],
    });
    const resources = { memoryMb: 768, diskMb: 256, cpus: 1 };
    const sandboxId = shared ? (await harness.client.call<{ id: string }>('POST', '/v1/sandboxes', { resources })).id : undefined;
    const session = await harness.client.createSession({
      pattern,
      allowedTools: ['Bash'],
      prompt: 'first',
      idleTimeoutSec: 600,
      ...(sandboxId !== undefined ? { sandboxId } : { resources }),
    });
    await waitForTurns(harness.client, session.id, 1);
    if (shared) {
      await harness.client.sendMessage(session.id, 'crash');
      await eventually(
        async () => ((await harness.client.listMessages(session.id)).at(-1)?.status === 'failed' ? true : undefined),
        60_000,
        'the crashed turn',
      );
    } else if (pattern === 'long-running') {
      // The next message wakes it in a new sandbox: the CLI resumes from the stored transcript.
      expect((await harness.client.call<SessionView>('POST', `/v1/sessions/${session.id}/hibernate`)).status).toBe('hibernated');
    }
    const attackMessage = await harness.client.sendMessage(session.id, 'attack');
    await eventually(
      async () => {
        const message = (await harness.client.listMessages(session.id)).find((candidate) => candidate.id === attackMessage.id);
        if (message?.status === 'failed') throw new Error(`the attack turn failed: ${JSON.stringify(message.error)}`);
        return message?.status === 'done' ? true : undefined;
      },
      90_000,
      'the attack turn',
    );
    report = toolResultsSent(harness.model).at(-1) ?? '';
    findingsDuringAttack.push(...(await hostTmpFindings()));
    // The CLI exits (the SDK removes its host directory) while the swapper runs in the sandbox.
    await harness.client.closeSession(session.id);
    await harness.settled();
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
    rmSync(canary.dir, { recursive: true, force: true });
  });

  it('runs the attack in a private copy of the directory, owned by the sandbox user and not mounted from the host', () => {
    expect(report).toMatch(/^dir=\/tmp\/claude-resume-[\w-]+ owner=agent$/m);
    expect(report).toContain('mounted=0');
    expect(report).toContain('wrote-40-MiB');
    expect(report).toContain('attack-started');
    // Every model request got its scripted reply (none fell through to an error answer).
    expect(harness.model.requests.filter((request) => request.kind === 'main' && request.outcome !== 'message').map((request) => request.outcome)).toEqual([]);
  });

  it('leaves the root-owned host canary unchanged', () => {
    expect(canary.digest()).toBe(canaryDigest);
  });

  it('never lets what the sandbox wrote reach the host /tmp, during the attack or after', async () => {
    expect(findingsDuringAttack).toEqual([]);
    expect(await hostTmpFindings()).toEqual([]);
  });
});
