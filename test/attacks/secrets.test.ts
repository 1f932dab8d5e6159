// Attack: a real agent hunts for the secrets that flow past its sandbox: the real model API key (the
// gateway adds it to every model call the CLI makes) and a tenant secret the egress proxy injects
// into the agent's own HTTPS request (and which just worked: the test server answered auth-ok). The
// agent searches its whole visible filesystem (the host's read-only /usr aside), every /proc
// environment and command line it sees, and the memory of every process in its sandbox, the CLI's
// included. Neither value may be found anywhere, while the same searches find what is really there
// (its session token and the secret's placeholder), so a search that cannot read would not pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { attemptsScript, checkOutput, python, rebuilt, runAgentTask } from '../helpers/attack-agent.js';
import { startEgressUpstream, type EgressUpstream } from '../helpers/egress-upstream.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';

const isRoot = process.getuid?.() === 0;
const UPSTREAM_KEY = `sk-ant-api03-secrets-attack-${Date.now()}-9d1f`;
const SECRET = `INJECTEDSECRET-${Date.now()}-4be0`;

/**
 * Reads every readable mapping of every other process of the sandbox through /proc/<pid>/mem and
 * counts the processes whose memory holds each needle (argv: names, then values in two halves each,
 * joined here, so that no command line holds a value whole).
 */
const MEMORY_SCAN = String.raw`
import os, re, sys
args = sys.argv[1:]
names = args[:len(args) // 3]
halves = args[len(args) // 3:]
needles = {name: (halves[2 * i] + halves[2 * i + 1]).encode() for i, name in enumerate(names)}
found = {name: 0 for name in names}
scanned = processes = 0
for pid in sorted(int(p) for p in os.listdir('/proc') if p.isdigit()):
    if pid == os.getpid():
        continue
    hits = set()
    try:
        maps = open('/proc/%d/maps' % pid).read().splitlines()
        mem = open('/proc/%d/mem' % pid, 'rb', buffering=0)
    except OSError:
        continue
    processes += 1
    for line in maps:
        match = re.match(r'([0-9a-f]+)-([0-9a-f]+) (\S+)', line)
        start, end, perms = int(match.group(1), 16), int(match.group(2), 16), match.group(3)
        if perms[0] != 'r' or end - start > (1 << 30) or '[vvar' in line or '[vsyscall' in line:
            continue
        at, tail = start, b''
        while at < end:
            try:
                mem.seek(at); chunk = mem.read(min(1 << 22, end - at))
            except OSError:
                break
            if not chunk:
                break
            data = tail + chunk
            for name, needle in needles.items():
                if needle in data:
                    hits.add(name)
            tail = data[-128:]
            at += len(chunk); scanned += len(chunk)
    for name in hits:
        found[name] += 1
print('processes', processes, 'mib', scanned >> 20, ' '.join('%s=%d' % (name, count) for name, count in found.items()))
`;

describe.skipIf(!isRoot)('attack: the real API key and an injected secret, searched for everywhere inside', () => {
  let upstream: EgressUpstream;
  let harness: Harness;
  let task: TaskView;
  let report: string;

  beforeAll(async () => {
    upstream = await startEgressUpstream(SECRET);
    process.env.HANGAR_TEST_SECRETS_ATTACK = SECRET;
    harness = await startHarness({
      scenario: { replies: [] },
      upstreamApiKey: UPSTREAM_KEY,
      config: {
        egress: {
          hosts: { 'mirror.test': upstream.namespace.address },
          allowPrivateNetworks: [`${upstream.namespace.address}/32`],
          extraCaFile: upstream.caFile,
          secrets: { GITHUB_TOKEN: { env: 'HANGAR_TEST_SECRETS_ATTACK', hosts: ['mirror.test:8443'] } },
        },
      },
    });
    const values = [SECRET, UPSTREAM_KEY, UPSTREAM_KEY.slice(8, 24)];
    /** The searched-for values, one a line, from builtins only (no process's argv holds one). */
    const patterns = `<(printf "%s\\n" ${values.map(rebuilt).join(' ')})`;
    const controls = '<(printf "%s\\n" "$ANTHROPIC_API_KEY" "$GITHUB_TOKEN")';
    const halves = (value: string): string => `'${value.slice(0, Math.ceil(value.length / 2))}' '${value.slice(Math.ceil(value.length / 2))}'`;
    const where = '/ --exclude-dir=proc --exclude-dir=sys --exclude-dir=usr';
    const proc = '/proc/[0-9]*/environ /proc/[0-9]*/cmdline /proc/[0-9]*/task/*/environ /proc/[0-9]*/task/*/cmdline';
    const attempts: Array<[string, string]> = [
      ['use_secret', 'curl -sS -m 20 -H "Authorization: Bearer $GITHUB_TOKEN" https://mirror.test:8443/auth; echo " placeholder=$GITHUB_TOKEN"'],
      // Control first: the session token and the placeholder, in files the agent writes, are found by the same search.
      [
        'files',
        `printf "%s %s\\n" "$ANTHROPIC_API_KEY" "$GITHUB_TOKEN" > /tmp/control.txt; grep -rlsaF -f ${patterns} ${where} | wc -l; grep -rlsaF -f ${controls} ${where}`,
      ],
      ['proc', `grep -lsaF -f ${patterns} ${proc} | wc -l; grep -lsaF -f ${controls} ${proc} | wc -l`],
      ['env', `env | grep -caF -f ${patterns}`],
      [
        'memory',
        // The session token and the placeholder are controls: the CLI holds both.
        python(
          MEMORY_SCAN,
          `secret key key_part token placeholder ${halves(SECRET)} ${halves(UPSTREAM_KEY)} ${halves(UPSTREAM_KEY.slice(8, 24))} "\${ANTHROPIC_API_KEY:0:20}" "\${ANTHROPIC_API_KEY:20}" "\${GITHUB_TOKEN:0:20}" "\${GITHUB_TOKEN:20}"`,
        ),
      ],
    ];
    const run = await runAgentTask(harness, [attemptsScript(attempts, 120)], {
      network: { allowedHosts: ['mirror.test:8443'], secrets: ['GITHUB_TOKEN'] },
    });
    task = run.task;
    report = run.results.join('\n');
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
    upstream?.close();
    delete process.env.HANGAR_TEST_SECRETS_ATTACK;
  });

  const output = (name: string): string => checkOutput(report, name);

  it('used both secrets for real: the proxy injected the secret, the gateway the key', () => {
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(output('use_secret')).toMatch(/^auth-ok placeholder=hangar-secret-GITHUB_TOKEN-[0-9a-f]+$/);
    expect(upstream.seen.filter((request) => request.path === '/auth').map((request) => request.authorization)).toEqual([`Bearer ${SECRET}`]);
    // The model server keeps the key's last 4 characters.
    expect(harness.model.requests.length).toBeGreaterThan(0);
    for (const request of harness.model.requests) expect(request.headers['x-api-key']).toBe(`***${UPSTREAM_KEY.slice(-4)}`);
  });

  it('finds neither in any file it can see, though the same search finds its token and placeholder', () => {
    const [count, ...controls] = output('files').split(' ');
    expect(count).toBe('0');
    expect(controls).toContain('/tmp/control.txt');
  });

  it('finds neither in any environment or command line under /proc, nor in its own environment', () => {
    const [count, controls] = output('proc').split(' ').map(Number);
    expect(count).toBe(0);
    expect(controls).toBeGreaterThan(1);
    expect(output('env')).toBe('0');
  });

  it("finds neither in the memory of any process of its sandbox, the CLI's included", () => {
    const match = /^processes (\d+) mib (\d+) secret=(\d+) key=(\d+) key_part=(\d+) token=(\d+) placeholder=(\d+)$/.exec(output('memory'));
    expect(match, output('memory')).not.toBeNull();
    const [processes, mib, secret, key, keyPart, token, placeholder] = match!.slice(1).map(Number);
    expect(processes).toBeGreaterThanOrEqual(3);
    expect(mib).toBeGreaterThan(10);
    expect({ secret, key, keyPart }).toEqual({ secret: 0, key: 0, keyPart: 0 });
    expect(token).toBeGreaterThanOrEqual(1);
    expect(placeholder).toBeGreaterThanOrEqual(1);
  });

  it('never showed either value in anything the agent printed or the task recorded', () => {
    for (const value of [SECRET, UPSTREAM_KEY, UPSTREAM_KEY.slice(8, 24)]) {
      expect(report).not.toContain(value);
      expect(JSON.stringify(task)).not.toContain(value);
    }
  });
});
