// The egress proxy end to end, used by a real agent: a scripted model has the CLI run curl inside
// its sandbox against an HTTP and an HTTPS server in a network namespace the test creates, reached
// by name through egress.hosts. Allowed hosts answer (plain, tunnelled TLS, intercepted TLS with a
// secret put in by the proxy); every other way out fails with a clear error; the sandbox never sees
// the secret; each decision is in the task's egress log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { HangarApiError } from '../../src/client/hangar-client.js';
import { startCli } from '../helpers/cli-process.js';
import { checkOutput, checksScript, startEgressUpstream, type EgressUpstream } from '../helpers/egress-upstream.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';

const isRoot = process.getuid?.() === 0;
const SECRET = `REALSECRET-${Date.now()}`;

describe.skipIf(!isRoot)('egress through the proxy, by a real agent', () => {
  let upstream: EgressUpstream;
  let harness: Harness;
  let task: TaskView;
  let report: string;

  beforeAll(async () => {
    upstream = await startEgressUpstream(SECRET);
    const address = upstream.namespace.address;
    process.env.HANGAR_TEST_EGRESS_SECRET = SECRET;
    harness = await startHarness({
      scenario: { replies: [] },
      config: {
        egress: {
          hosts: { 'mirror.test': address, 'tunnel.test': address, 'other.test': address },
          allowPrivateNetworks: [`${address}/32`],
          extraCaFile: upstream.caFile,
          secrets: { GITHUB_TOKEN: { env: 'HANGAR_TEST_EGRESS_SECRET', hosts: ['mirror.test:8443'] } },
        },
      },
    });
    const script = checksScript([
      ['plain', 'curl -sS -m 20 http://mirror.test:8080/hello'],
      ['intercepted', 'curl -sS -m 20 https://mirror.test:8443/hello'],
      ['secret', 'curl -sS -m 20 -H "Authorization: Bearer $GITHUB_TOKEN" https://mirror.test:8443/auth'],
      ['tunnelled', 'curl -sS -m 20 https://tunnel.test:8443/hello'],
      ['denied', 'curl -sS -m 20 https://other.test:8443/hello'],
      ['metadata', 'curl -sS -m 20 http://169.254.169.254/latest/meta-data/'],
      ['direct', `curl -sS -m 5 --noproxy "*" http://${address}:8080/hello`],
      ['placeholder', 'printenv GITHUB_TOKEN'],
      ['leaked', `env | grep -c ${SECRET}`],
    ]);
    harness.model.setScenario({
      replies: [
        {
          match: { lastUserText: 'Use the network' },
          content: [{ type: 'tool_use', name: 'Bash', input: { command: script, description: 'network checks', timeout: 120_000 } }],
        },
        { content: [{ type: 'text', text: 'network checked' }] },
      ],
    });
    task = await harness.client.runTask({
      prompt: 'Use the network.',
      allowedTools: ['Bash'],
      network: { allowedHosts: ['mirror.test:8080', 'mirror.test:8443', 'tunnel.test:8443', '169.254.169.254:80'], secrets: ['GITHUB_TOKEN'] },
    });
    report = toolResultsSent(harness.model).join('\n');
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
    upstream?.close();
    delete process.env.HANGAR_TEST_EGRESS_SECRET;
  });

  const line = (name: string): string => checkOutput(report, name);

  it('reaches allowed hosts over plain HTTP, tunnelled TLS and intercepted TLS', () => {
    expect(task.error).toBeNull();
    expect(task.result).toBe('network checked');
    expect(line('plain')).toBe('hello-plain');
    expect(line('intercepted')).toBe('hello-tls');
    expect(line('tunnelled')).toBe('hello-tls');
  });

  it('puts the secret in for its host only; the sandbox sees a placeholder', () => {
    expect(line('secret')).toBe('auth-ok');
    expect(upstream.seen.find((request) => request.path === '/auth')?.authorization).toBe(`Bearer ${SECRET}`);
    expect(line('placeholder')).toMatch(/^hangar-secret-GITHUB_TOKEN-[0-9a-f]{24}$/);
    expect(line('leaked')).toBe('0');
    expect(report).not.toContain(SECRET);
    expect(JSON.stringify(task)).not.toContain(SECRET);
  });

  it('refuses hosts not allowed, the metadata address and a way around the proxy, each with a clear error', () => {
    expect(line('denied')).toMatch(/CONNECT tunnel failed, response 403/);
    expect(line('metadata')).toMatch(/link-local/);
    expect(line('direct')).toMatch(/Failed to connect|Couldn't connect|Network is unreachable|Could not resolve/i);
    // Nothing refused reached the upstream.
    expect(upstream.seen.filter((request) => request.host?.startsWith('other.test'))).toEqual([]);
  });

  it("records every decision in the task's egress log", async () => {
    const log = await harness.hangar.store.egress.list(task.id, { limit: 100 });
    const summary = log.map((entry) => `${entry.method} ${entry.host}:${entry.port} ${entry.verdict}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        'GET mirror.test:8080 allowed',
        'GET mirror.test:8443 allowed',
        'CONNECT tunnel.test:8443 allowed',
        'CONNECT other.test:8443 denied',
        'GET 169.254.169.254:80 denied',
      ]),
    );
    const plain = log.find((entry) => entry.host === 'mirror.test' && entry.port === 8080)!;
    expect(plain.address).toBe(upstream.namespace.address);
    expect(plain.bytesIn).toBeGreaterThan(0);
    expect(JSON.stringify(log)).not.toContain(SECRET);
  });

  it('serves the log over the API, paged, and the CLI prints it', async () => {
    const all = await harness.client.listEgress('tasks', task.id);
    expect(all.entries.length).toBeGreaterThanOrEqual(5);
    expect(all.nextAfter).toBeNull();
    const first = await harness.client.listEgress('tasks', task.id, { limit: 2 });
    expect(first.entries.map((entry) => entry.seq)).toEqual([1, 2]);
    const second = await harness.client.listEgress('tasks', task.id, { after: first.nextAfter!, limit: 2 });
    expect(second.entries.map((entry) => entry.seq)).toEqual([3, 4]);
    await expect(harness.client.listEgress('tasks', 'task-unknown')).rejects.toMatchObject({
      status: 404,
      code: 'TASK_NOT_FOUND',
    } satisfies Partial<HangarApiError>);
    await expect(harness.client.listEgress('sessions', 'ses-unknown')).rejects.toMatchObject({ status: 404, code: 'SESSION_NOT_FOUND' });

    const cli = startCli(['tasks', 'egress', task.id, '--denied', '--server', harness.baseUrl]);
    const finished = await cli.done;
    expect(finished.code).toBe(0);
    expect(finished.stdout).toMatch(/denied\s+CONNECT other\.test:8443 0\/0 B {2}host other\.test:8443 is not in the allowed hosts/);
    expect(finished.stdout).not.toMatch(/^\d+ \S+ allowed /m);
  });
});
