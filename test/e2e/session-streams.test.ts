// The durable event stream, shared sandboxes and schedules, end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEventView } from '../../src/client/hangar-client.js';
import type { LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import { cliSpawns, eventually, startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';

const bash = (command: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step' } }],
});
const say = (text: string, extra: Record<string, unknown> = {}) => ({ ...extra, content: [{ type: 'text' as const, text }] });

describe('session streams, shared sandboxes and schedules', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('replays from Last-Event-ID after a disconnect mid-turn: no gap, no duplicate', async () => {
    // A slow turn: several tool calls with delays, so the client can drop out in the middle.
    harness.model.setScenario({
      replies: [
        bash('echo one', { delayMs: 150 }),
        bash('echo two', { delayMs: 150 }),
        bash('echo three', { delayMs: 150 }),
        say('all steps done', { delayMs: 150 }),
      ],
    });
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'run the steps', idleTimeoutSec: 600 });
    const seen: SessionEventView[] = [];
    // First connection: leave after the first tool result arrives (mid-turn).
    const lastSeq = await harness.client.readEvents(session.id, {
      after: 0,
      onEvent: (event) => {
        seen.push(event);
        const data = event.data as { type?: string };
        return event.type === 'sdk' && data.type === 'user';
      },
    });
    expect(seen.at(-1)?.seq).toBe(lastSeq);
    const turnDone = seen.some((event) => event.type === 'turn_completed');
    expect(turnDone).toBe(false);
    // Reconnect with Last-Event-ID and follow to the end of the turn.
    await harness.client.readEvents(session.id, {
      after: lastSeq,
      onEvent: (event) => {
        seen.push(event);
        return event.type === 'status' && (event.data as { status: string }).status === 'idle';
      },
    });
    const seqs = seen.map((event) => event.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => index + 1));
    const types = seen.map((event) => event.type);
    expect(types).toContain('turn_started');
    expect(types).toContain('checkpoint');
    expect(types).toContain('turn_completed');
    const sdkTypes = seen.filter((event) => event.type === 'sdk').map((event) => (event.data as { type: string }).type);
    expect(sdkTypes.filter((type) => type === 'result')).toHaveLength(1);
    expect(sdkTypes.filter((type) => type === 'assistant').length).toBeGreaterThanOrEqual(4);
    // A replay of the whole stored stream is identical.
    const replay: SessionEventView[] = [];
    await harness.client.readEvents(session.id, { after: 0, follow: false, onEvent: (event) => void replay.push(event) });
    expect(replay.slice(0, seen.length)).toEqual(seen);
    await harness.client.closeSession(session.id);
  });

  it('runs two sessions side by side in one shared sandbox: shared files, one set of limits', async () => {
    harness.sandboxes.clear();
    const shared = await harness.client.call<{ id: string; status: string; sessions: string[] }>('POST', '/v1/sandboxes', {
      resources: { memoryMb: 1024, cpus: 1, diskMb: 256 },
    });
    expect(shared.status).toBe('active');
    harness.model.setScenario({
      replies: [
        bash('echo "from writer" > shared.txt && echo written', { match: { lastUserText: 'write it' } }),
        say('written', { match: { lastUserText: 'write it' } }),
        bash('cat shared.txt', { match: { lastUserText: 'read it' } }),
        say('read', { match: { lastUserText: 'read it' } }),
      ],
    });
    const writer = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], sandboxId: shared.id, prompt: 'write it' });
    await eventually(async () => ((await harness.client.getSession(writer.id)).turns === 1 ? true : undefined), 60_000, 'writer turn');
    const reader = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], sandboxId: shared.id, prompt: 'read it' });
    await eventually(async () => ((await harness.client.getSession(reader.id)).turns === 1 ? true : undefined), 60_000, 'reader turn');
    expect(toolResultsSent(harness.model).at(-1)).toBe('from writer');

    // Both CLIs run in the one sandbox, inside its one cgroup (its limits cover their sum).
    const spawns = cliSpawns(harness);
    expect(spawns).toHaveLength(2);
    expect(new Set(spawns.map((spawn) => spawn.sandboxId))).toEqual(new Set([shared.id]));
    const sandbox = harness.sandboxes.get(shared.id)!.sandbox as LocalSandbox;
    const inCgroup = await sandbox.hostPids();
    expect(inCgroup.length).toBeGreaterThanOrEqual(2);
    const view = await harness.client.call<{ sessions: string[] }>('GET', `/v1/sandboxes/${shared.id}`);
    expect(view.sessions.sort()).toEqual([writer.id, reader.id].sort());

    // The sandbox ends with its last session.
    await harness.client.closeSession(writer.id);
    expect((await harness.client.call<{ status: string }>('GET', `/v1/sandboxes/${shared.id}`)).status).toBe('active');
    await harness.client.closeSession(reader.id);
    expect((await harness.client.call<{ status: string }>('GET', `/v1/sandboxes/${shared.id}`)).status).toBe('closed');
    for (const spawn of spawns) expect(() => process.kill(spawn.pid, 0)).toThrow();
  });

  it('fires an every-second schedule and never overlaps a running turn', async () => {
    // Each scheduled turn takes ~1.5 s, longer than the 1 s interval.
    harness.model.setScenario({ replies: [say('tick handled', { delayMs: 1500, times: 100 })] });
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], idleTimeoutSec: 600 });
    const schedule = await harness.client.call<{ id: string; nextRunAt: string }>('POST', `/v1/sessions/${session.id}/schedules`, {
      every: '1s',
      prompt: 'tick',
    });
    await eventually(async () => ((await harness.client.getSession(session.id)).turns >= 3 ? true : undefined), 60_000, 'three scheduled turns');
    await harness.client.call('DELETE', `/v1/sessions/${session.id}/schedules/${schedule.id}`);
    const messages = await harness.client.listMessages(session.id);
    const scheduled = messages.filter((message) => message.source === `schedule:${schedule.id}`);
    expect(scheduled.length).toBeGreaterThanOrEqual(3);
    // Never more than one run of the schedule open at a time.
    const events: SessionEventView[] = [];
    await harness.client.readEvents(session.id, { after: 0, follow: false, onEvent: (event) => void events.push(event) });
    let open = 0;
    let maxOpen = 0;
    for (const event of events) {
      if (event.type === 'turn_started') open += 1;
      if (event.type === 'turn_completed' || event.type === 'turn_failed') open -= 1;
      maxOpen = Math.max(maxOpen, open);
    }
    expect(maxOpen).toBe(1);
    expect(events.some((event) => event.type === 'schedule_skipped')).toBe(true);
    await harness.client.closeSession(session.id);
  }, 90_000);
});
