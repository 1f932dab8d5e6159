// Attack (issue 7, findings 5 and 9): a hostile agent uses the model gateway bridge inside its sandbox
// (ANTHROPIC_BASE_URL, 127.0.0.1:4100) to make Hangar hold memory and to send the model provider
// requests Hangar never meant to sign: 40 connections announcing 30 MiB bodies and pushing them without
// finishing, 40 more announcing bodies under the cap and stalling past the body deadline, connections
// that never finish their headers, bodies of tiny JSON values that parse into many times their size,
// and requests with mcp_servers, a server tool, an unknown beta and a query string. The real
// CLI runs the attack with Bash inside the real sandbox. Hangar's memory must stay far below the attack
// size, /healthz must answer throughout, nothing refused may reach the upstream, and the task finishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';
import { watchHost, type HostWatch } from '../helpers/host-watch.js';

const MIB = 1024 * 1024;
/** Hangar's RSS may grow this much during the attack; the attack pushes ~1.7 GB at the gateway. */
const RSS_GROWTH_BOUND = 256 * MIB;
const UNKNOWN_BETA = 'mcp-client-2025-04-04';

/** The attack, run by python3 inside the sandbox; prints one JSON summary line. */
const ATTACK_SCRIPT = String.raw`
import json, os, socket, time
TOKEN = os.environ['ANTHROPIC_API_KEY']
PORT = int(os.environ['ANTHROPIC_BASE_URL'].rstrip('/').rsplit(':', 1)[1])
MARK = ''.join(['gw', '-attack-', 'body-', '5c1d'])
CHUNK = b'x' * 65536

def head(length, path='/v1/messages?beta=true', extra=''):
    return ('POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nx-api-key: %s\r\ncontent-type: application/json\r\n'
            'anthropic-version: 2023-06-01\r\n%scontent-length: %d\r\n\r\n' % (path, PORT, TOKEN, extra, length)).encode()

def status_of(data):
    line = data.split(b'\r\n', 1)[0]
    return line[9:12].decode() if line.startswith(b'HTTP/1.') else None

def opened(count, announce, push, partial_headers=False):
    conns = []
    for _ in range(count):
        s = socket.create_connection(('127.0.0.1', PORT))
        s.setblocking(False)
        first = head(announce)
        conns.append({'s': s, 'out': first[:40] if partial_headers else first, 'push': 0 if partial_headers else push,
                      'sent': 0, 'in': b'', 'closed': False})
    return conns

def drive(conns, hold):
    deadline = time.time() + hold
    while time.time() < deadline:
        for c in conns:
            if c['closed']:
                continue
            try:
                while c['out'] or c['sent'] < c['push']:
                    if not c['out']:
                        c['out'] = CHUNK[:min(len(CHUNK), c['push'] - c['sent'])]
                    n = c['s'].send(c['out'])
                    c['out'] = c['out'][n:]
                    c['sent'] += n
            except BlockingIOError:
                pass
            except OSError:
                c['closed'] = True
            try:
                while True:
                    data = c['s'].recv(65536)
                    if not data:
                        c['closed'] = True
                        break
                    c['in'] += data
            except BlockingIOError:
                pass
            except OSError:
                c['closed'] = True
        time.sleep(0.02)

def report(conns):
    statuses = {}
    for c in conns:
        key = status_of(c['in']) or ('closed' if c['closed'] else 'open')
        statuses[key] = statuses.get(key, 0) + 1
        c['s'].close()
    return {'statuses': statuses, 'pushedMiB': round(sum(c['sent'] for c in conns) / 1048576)}

def complete(body, path='/v1/messages?beta=true', extra=''):
    return complete_raw(json.dumps(body).encode(), path, extra)

def complete_raw(data, path='/v1/messages?beta=true', extra=''):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=20)
    s.sendall(head(len(data), path, extra) + data)
    answer = b''
    try:
        while b'\r\n\r\n' not in answer:
            part = s.recv(65536)
            if not part:
                break
            answer += part
    except OSError:
        pass
    s.close()
    return status_of(answer)

base = {'model': 'claude-sonnet-4-5', 'max_tokens': 64, 'stream': False, 'messages': [{'role': 'user', 'content': MARK}]}
out = {'start': int(time.time() * 1000)}
# 40 bodies of 30 MiB (over the 16 MiB cap, under the old 32 MiB one), each pushed up to its last byte and never finished.
oversized = opened(40, 30 * 1048576, 30 * 1048576 - 1)
drive(oversized, 10)
out['oversized'] = report(oversized)
# 40 bodies under the size cap, pushed and stalled past the body deadline; 20 requests that never end their headers.
under_cap = opened(40, 12 * 1048576, 12 * 1048576 - 1)
slow_headers = opened(20, 0, 0, partial_headers=True)
drive(under_cap + slow_headers, 36)
out['underCap'] = report(under_cap)
out['slowHeaders'] = report(slow_headers)
# 4 complete bodies under the cap made of tiny JSON values, which parse into many times their size.
bomb = b'{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[' + b'{},' * (5 * 1048576) + b'{}]}'
out['parseBomb'] = [complete_raw(bomb) for _ in range(4)]
out['mcpServers'] = complete(dict(base, mcp_servers=[{'type': 'url', 'url': 'http://169.254.169.254/latest/meta-data/', 'name': 'meta'}]))
out['serverTool'] = complete(dict(base, tools=[{'type': 'web_fetch_20250910', 'name': 'web_fetch'}]))
out['unknownBeta'] = complete(base, extra='anthropic-beta: claude-code-20250219,${UNKNOWN_BETA}\r\n')
out['queryString'] = complete(base, path='/v1/messages?beta=true&url=http%3A%2F%2F169.254.169.254%2F')
out['end'] = int(time.time() * 1000)
print('ATTACK-SUMMARY ' + json.dumps(out))
`;

const bash = (command: string) => ({
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'gateway attack', timeout: 300000 } }],
});

interface FloodResult {
  statuses: Record<string, number>;
  pushedMiB: number;
}

interface AttackSummary {
  start: number;
  end: number;
  oversized: FloodResult;
  underCap: FloodResult;
  slowHeaders: FloodResult;
  parseBomb: Array<string | null>;
  mcpServers: string | null;
  serverTool: string | null;
  unknownBeta: string | null;
  queryString: string | null;
}

describe('attack: gateway memory amplification and forwarding through the sandbox bridge', () => {
  let harness: Harness;
  let task: TaskView;
  let summary: AttackSummary | undefined;
  let watch: HostWatch;
  let afterRss = 0;

  beforeAll(async () => {
    harness = await startHarness({
      scenario: { replies: [bash(`python3 - <<'PYEOF'\n${ATTACK_SCRIPT}\nPYEOF`), { content: [{ type: 'text', text: 'attack done' }] }] },
      // The stalled bodies are held 36 s: a body deadline of 8 s (30 s by default) leaves a loaded host
      // room to reach it for every one of them (at 30 s, two once were still open when the hold ended).
      config: { gateway: { bodyTimeoutMs: 8_000 } },
    });
    await harness.settled();
    watch = watchHost(harness.baseUrl, { probeEveryMs: 100 });
    try {
      task = await harness.client.runTask({
        prompt: 'Attack the gateway.',
        allowedTools: ['Bash'],
        maxTurns: 4,
        resources: { memoryMb: 768, diskMb: 64, cpus: 1 },
      });
    } finally {
      await watch.stop();
    }
    afterRss = process.memoryUsage().rss;
    const line = toolResultsSent(harness.model)
      .join('\n')
      .split('\n')
      .find((candidate) => candidate.startsWith('ATTACK-SUMMARY '));
    summary = line === undefined ? undefined : (JSON.parse(line.slice('ATTACK-SUMMARY '.length)) as AttackSummary);
    const during = summary === undefined ? [] : watch.probes.filter((probe) => probe.at >= summary!.start && probe.at <= summary!.end);
    // Measurements for the record (no timing assertions on a shared machine).
    console.log(
      `gateway attack: task ${task.status} ${JSON.stringify(task.error)} ${task.durationMs} ms; RSS baseline ${(watch.baselineRss / MIB).toFixed(0)} MiB, peak ${(watch.peakRss / MIB).toFixed(0)} MiB, ` +
        `after ${(afterRss / MIB).toFixed(0)} MiB; /healthz ${watch.probes.length} watch.probes (${during.length} during the attack, ` +
        `max ${Math.max(0, ...during.map((probe) => probe.latencyMs))} ms); gateway ${JSON.stringify(harness.hangar.gateway.stats())}; ` +
        `agent saw ${JSON.stringify(summary)}`,
    );
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('runs the attack inside the sandbox and the task still finishes', () => {
    expect(summary, toolResultsSent(harness.model).join('\n').slice(0, 2000)).toBeDefined();
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('attack done');
  });

  it('refuses what it must, as the agent saw it', () => {
    expect(summary!.oversized.statuses.open ?? 0).toBe(0);
    // A refusal can reach the agent as a closed connection: socat drops the answer when its write of the unread body fails.
    expect(summary!.underCap.statuses['429']).toBeGreaterThanOrEqual(1);
    expect((summary!.underCap.statuses['429'] ?? 0) + (summary!.underCap.statuses.closed ?? 0)).toBeGreaterThanOrEqual(30);
    expect(summary!.underCap.statuses.open ?? 0).toBe(0);
    expect(summary!.slowHeaders.statuses.open ?? 0).toBe(0);
    expect(summary!.parseBomb).toEqual(['413', '413', '413', '413']);
    expect([summary!.mcpServers, summary!.serverTool, summary!.unknownBeta, summary!.queryString]).toEqual(['400', '400', '400', '400']);
  });

  it('counts every refusal by reason, and holds no request or byte afterwards', () => {
    const stats = harness.hangar.gateway.stats();
    expect(stats.refused.too_large).toBeGreaterThanOrEqual(40);
    expect((stats.refused.in_flight_bytes ?? 0) + (stats.refused.concurrency ?? 0)).toBeGreaterThanOrEqual(30);
    expect(stats.refused.body_timeout).toBeGreaterThanOrEqual(1);
    expect(stats.refused).toMatchObject({ beta: 1, query: 1, body_shape: 4 });
    expect(stats.refused.server_tool).toBe(2);
    expect(stats).toMatchObject({ openRequests: 0, bufferedBytes: 0 });
  });

  it('never let a refused request reach the upstream', () => {
    const marker = ['gw', '-attack-', 'body-', '5c1d'].join('');
    for (const request of harness.model.requests) {
      expect(request.path).toBe('/v1/messages?beta=true');
      expect(request.headers['anthropic-beta'] ?? '').not.toContain(UNKNOWN_BETA);
      const body = JSON.stringify(request.body ?? null);
      expect(body).not.toContain(marker);
      expect(body).not.toContain('"mcp_servers"');
      expect(body).not.toContain('web_fetch_20250910"');
    }
    expect(harness.model.requests.filter((request) => request.kind === 'main')).toHaveLength(2);
  });

  it('kept Hangar memory far below the attack size and /healthz answering throughout', () => {
    expect(watch.peakRss - watch.baselineRss).toBeLessThan(RSS_GROWTH_BOUND);
    const during = watch.probes.filter((probe) => probe.at >= summary!.start && probe.at <= summary!.end);
    expect(during.length).toBeGreaterThan(0);
    expect(watch.probes.filter((probe) => probe.status !== 200)).toEqual([]);
  });
});
