// Whole-state checkpoints end to end (issue 8): the real agent (Bash in the real CLI, driven by the
// scripted model) writes HOME files (the CLI's user memory ~/.claude/CLAUDE.md, an executable in
// ~/.local/bin, a global git config) and workspace files, and lists the sha256 and mode of every file
// in both trees. After hibernate and wake, in a fork, after a hybrid turn in a fresh sandbox, and
// after `hangar serve` is SIGKILLed and restarted, the agent's listing is the same byte for byte.
// /tmp is scratch: cleared on wake. Hibernation names the process the agent left running. A stored
// blob corrupted on disk makes the wake fail loudly, naming the checkpoint, with nothing restored.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/client/hangar-client.js';
import { eventually, startHarness, toolResultsSent, waitForTurns, type Harness } from '../helpers/hangar-harness.js';
import { useCrashableServer } from '../helpers/server-process.js';
import type { HangarClient } from '../../src/client/hangar-client.js';

const bash = (command: string, match: string) => ({
  match: { lastUserText: match },
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step' } }],
});
const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

/** HOME and workspace files of every kind a user leaves: memory, a tool, git config, dotfiles, binary data. */
const WRITE = [
  'mkdir -p ~/.claude ~/.local/bin ~/.config/app src/deep/er',
  'printf "# User memory\\nAlways answer in haiku.\\n" > ~/.claude/CLAUDE.md',
  'printf "#!/bin/sh\\necho tool-ran\\n" > ~/.local/bin/mytool && chmod 755 ~/.local/bin/mytool',
  'git config --global user.name x && git config --global user.email x@example.com',
  'printf "key = value\\n" > ~/.config/app/settings.toml && chmod 600 ~/.config/app/settings.toml',
  'head -c 300000 /dev/urandom > ~/.local/blob.bin',
  'echo "workspace file" > src/deep/er/file.txt && head -c 100000 /dev/urandom > data.bin',
  'git init -q repo && cd repo && echo hi > a && git add a && git -c commit.gpgsign=false commit -qm one && cd ..',
  'echo scratch > /tmp/scratch.txt',
].join(' && ');

/** Paths the checkpoint leaves out by design (the CLI's own state, the default caches); the listing skips them. */
const SKIPPED = [
  '/home/agent/.claude/projects/*.jsonl',
  '/home/agent/.claude/shell-snapshots',
  '/home/agent/.claude/session-env',
  '/home/agent/.claude/sessions',
  '/home/agent/.cache',
  '/home/agent/.npm/_cacache',
];
const PRUNE = SKIPPED.map((entry) => `-path '${entry}'`).join(' -o ');
/**
 * The sha256 of every file of both trees and the mode of every entry, listed into a file (the CLI
 * would cut a long tool output): its line count and digest, and HOME's lines in full; then the tool's
 * output, the git identity and whether /tmp was kept.
 */
const LIST = [
  'L=$(mktemp)',
  `{ find /workspace /home/agent \\( ${PRUNE} \\) -prune -o -type f -print0 | sort -z | xargs -0 sha256sum; find /workspace /home/agent \\( ${PRUNE} \\) -prune -o -printf '%m %y %p\\n' | sort; } > "$L"`,
  'echo "entries=$(wc -l < "$L") digest=$(sha256sum < "$L" | cut -c1-64)"',
  'grep -v " /workspace" "$L"',
  'echo "user=$(git config --global user.name)"',
  'echo "tool=$(~/.local/bin/mytool)"',
  'echo ==scratch== && (cat /tmp/scratch.txt 2>/dev/null || echo tmp-cleared)',
].join(' && ');
/** An orphaned sleeper (its subshell exits at once) that outlives the turn. */
const START_SLEEPER = '(nohup sleep 600 >/dev/null 2>&1 &)';

/** The listing part of a LIST output (before the /tmp probe). */
const listing = (output: string): string => output.split('==scratch==')[0]!.trim();
const scratch = (output: string): string => output.split('==scratch==')[1]!.trim();

async function eventsOf(client: HangarClient, id: string): Promise<Array<{ type: string; data: unknown }>> {
  const events: Array<{ type: string; data: unknown }> = [];
  await client.readEvents(id, { after: 0, follow: false, onEvent: (event) => void events.push({ type: event.type, data: event.data }) });
  return events;
}

describe('whole-state checkpoints', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('brings back every byte of the workspace and HOME after hibernate and wake, in a fork and after a hybrid turn', async () => {
    harness.model.setScenario({
      replies: [
        bash(`${WRITE} && ${START_SLEEPER} && ${LIST}`, 'write state'),
        say('written'),
        bash(LIST, 'list after wake'),
        say('listed'),
        bash(LIST, 'list in fork'),
        say('listed'),
        bash(`${WRITE} && ${LIST}`, 'hybrid write'),
        say('written'),
        bash(LIST, 'hybrid list'),
        say('listed'),
      ],
    });
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'write state', idleTimeoutSec: 600 });
    await waitForTurns(harness.client, session.id, 1, 120_000);
    const before = toolResultsSent(harness.model).at(-1)!;
    expect(before).toContain('/home/agent/.claude/CLAUDE.md');
    expect(before).toContain('/home/agent/.local/bin/mytool');
    expect(before).toContain('/home/agent/.gitconfig');
    expect(before).toMatch(/entries=(\d{2,}) digest=[0-9a-f]{64}/);
    expect(before).toContain('755 f /home/agent/.local/bin/mytool');
    expect(before).toContain('user=x');
    expect(before).toContain('tool=tool-ran');
    expect(scratch(before)).toBe('scratch');

    // Hibernation ends the sleeper the agent left running, and says so.
    expect((await harness.client.call<SessionView>('POST', `/v1/sessions/${session.id}/hibernate`)).status).toBe('hibernated');
    const hibernated = (await eventsOf(harness.client, session.id)).find((event) => event.type === 'hibernated')!.data as {
      endedProcesses: string[];
      endedProcessCount: number;
    };
    expect(hibernated.endedProcesses).toContain('sleep');
    expect(hibernated.endedProcesses).not.toContain('claude');
    expect(hibernated.endedProcesses).not.toContain('socat');
    expect(hibernated.endedProcesses).not.toContain('bwrap');

    await harness.client.sendMessage(session.id, 'list after wake');
    const woken = await waitForTurns(harness.client, session.id, 2, 120_000);
    const afterWake = toolResultsSent(harness.model).at(-1)!;
    expect(listing(afterWake)).toBe(listing(before));
    expect(scratch(afterWake)).toBe('tmp-cleared');
    expect(woken.checkpoint).toMatchObject({ turn: 2 });

    const fork = await harness.client.forkSession(session.id);
    await harness.client.sendMessage(fork.id, 'list in fork');
    await waitForTurns(harness.client, fork.id, 3, 120_000);
    expect(listing(toolResultsSent(harness.model).at(-1)!)).toBe(listing(before));

    const hybrid = await harness.client.createSession({ pattern: 'hybrid', allowedTools: ['Bash'], prompt: 'hybrid write' });
    await waitForTurns(harness.client, hybrid.id, 1, 120_000);
    const hybridBefore = toolResultsSent(harness.model).at(-1)!;
    expect(hybridBefore).toContain('/home/agent/.claude/CLAUDE.md');
    await harness.client.sendMessage(hybrid.id, 'hybrid list');
    await waitForTurns(harness.client, hybrid.id, 2, 120_000);
    expect(listing(toolResultsSent(harness.model).at(-1)!)).toBe(listing(hybridBefore));
    for (const id of [session.id, fork.id, hybrid.id]) await harness.client.closeSession(id);
  }, 300_000);

  it('fails the wake loudly, naming the checkpoint, when its stored archive was corrupted on disk', async () => {
    harness.model.setScenario({
      replies: [bash('echo kept > kept.txt && echo ~/.claude && echo done', 'before corruption'), say('done'), say('never reached')],
    });
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'before corruption', idleTimeoutSec: 600 });
    const done = await waitForTurns(harness.client, session.id, 1, 120_000);
    const checkpointId = done.checkpoint!.id;
    expect((await harness.client.call<SessionView>('POST', `/v1/sessions/${session.id}/hibernate`)).status).toBe('hibernated');
    const blobFile = path.join(harness.dataDir, 'blobs', 'sessions', session.id, `${checkpointId}.tar.zst`);
    const bytes = readFileSync(blobFile);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(blobFile, bytes);
    const requestsBefore = harness.model.requests.filter((request) => request.kind === 'main').length;

    await harness.client.sendMessage(session.id, 'after corruption');
    const failed = await eventually(
      async () => {
        const current = await harness.client.getSession(session.id);
        return current.status === 'failed' ? current : undefined;
      },
      60_000,
      'the failed wake',
    );
    expect(failed.error?.code).toBe('CHECKPOINT_CORRUPT');
    expect(failed.error?.message).toContain(checkpointId);
    const events = await eventsOf(harness.client, session.id);
    const turnFailed = events.filter((event) => event.type === 'turn_failed').at(-1)!.data as { error: { code: string; message: string } };
    expect(turnFailed.error).toMatchObject({ code: 'CHECKPOINT_CORRUPT', message: expect.stringContaining(checkpointId) });
    expect(events.find((event) => event.type === 'checkpoint_corrupt')?.data).toMatchObject({ details: { checkpointId, mismatch: 'archive_sha256' } });
    expect(events.some((event) => event.type === 'woke')).toBe(false);
    // The prompt never reached the model: nothing ran on a partial state.
    expect(harness.model.requests.filter((request) => request.kind === 'main').length).toBe(requestsBefore);
    const [message] = (await harness.client.listMessages(session.id)).filter((queued) => queued.seq === 2);
    expect(message?.status).toBe('failed');
    await harness.client.closeSession(session.id);
  }, 120_000);
});

describe('whole-state checkpoints across a server crash', () => {
  const bed = useCrashableServer('hangar-whole-state-');

  it('brings back every byte of the workspace and HOME after SIGKILL and restart; a shared sandbox whose checkpoint was corrupted fails naming it', async () => {
    const { dataDir, model } = bed;
    model.setScenario({
      replies: [
        bash(`${WRITE} && ${LIST}`, 'write before crash'),
        say('written'),
        bash('echo shared > shared.txt && echo ok', 'shared turn'),
        say('shared done'),
        bash(LIST, 'list after restart'),
        say('listed'),
      ],
    });
    let server = await bed.start();
    const session = await server.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'write before crash', idleTimeoutSec: 600 });
    await waitForTurns(server.client, session.id, 1, 120_000);
    const before = toolResultsSent(model).at(-1)!;
    expect(before).toContain('/home/agent/.local/bin/mytool');
    const shared = await server.client.call<{ id: string }>('POST', '/v1/sandboxes', { resources: { memoryMb: 1024, cpus: 1, diskMb: 256 } });
    const member = await server.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], sandboxId: shared.id, prompt: 'shared turn' });
    const memberCheckpoint = (await waitForTurns(server.client, member.id, 1, 120_000)).checkpoint!.id;

    await bed.crash();
    // The shared sandbox comes back at start from its newest checkpoint: one byte of it changed on disk.
    const blobFile = path.join(dataDir, 'blobs', 'sessions', member.id, `${memberCheckpoint}.tar.zst`);
    const bytes = readFileSync(blobFile);
    bytes[bytes.length - 1]! ^= 0x01;
    writeFileSync(blobFile, bytes);
    server = await bed.start();
    const failedMember = await server.client.getSession(member.id);
    expect(failedMember.status).toBe('failed');
    expect(failedMember.error?.code).toBe('CHECKPOINT_CORRUPT');
    expect(failedMember.error?.message).toContain(memberCheckpoint);

    expect((await server.client.getSession(session.id)).status).toBe('hibernated');
    await server.client.sendMessage(session.id, 'list after restart');
    await waitForTurns(server.client, session.id, 2, 120_000);
    const after = toolResultsSent(model).at(-1)!;
    expect(listing(after)).toBe(listing(before));
    expect(scratch(after)).toBe('tmp-cleared');
  }, 180_000);
});
