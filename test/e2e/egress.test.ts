// The egress proxy end to end, used by a real agent: a scripted model has the CLI run curl inside
// its sandbox against an HTTP and an HTTPS server in a network namespace the test creates, reached
// by name through egress.hosts. Allowed hosts answer (plain, tunnelled TLS, intercepted TLS with a
// secret put in by the proxy, configured or declared by the task with its value); every other way out
// fails with a clear error; the sandbox never sees a secret's value; each decision is in the task's
// egress log.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { HangarApiError } from '../../src/client/hangar-client.js';
import { startCli } from '../helpers/cli-process.js';
import { checkOutput, checksScript, startEgressUpstream, type EgressUpstream } from '../helpers/egress-upstream.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';

const isRoot = process.getuid?.() === 0;
const SECRET = `REALSECRET-${Date.now()}`;
/** A value the task declares; the script the agent runs holds it only in two halves. */
const DECLARED = `DECLAREDVALUE-${Date.now()}`;
const DECLARED_HALVES = [DECLARED.slice(0, 7), DECLARED.slice(7)] as const;

/** A bare repository with one commit (README.md: hello from git), served by dumb HTTP. */
function makeGitRepository(staticDir: string): void {
  const work = mkdtempSync(path.join(tmpdir(), 'hangar-egress-git-'));
  const git = (...args: string[]): void =>
    void execFileSync('git', args, { cwd: work, stdio: 'pipe', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work } });
  try {
    writeFileSync(path.join(work, 'README.md'), 'hello from git\n');
    git('init', '-q', '-b', 'main');
    git('add', 'README.md');
    git('-c', 'user.name=Hangar Test', '-c', 'user.email=test@hangar.invalid', 'commit', '-q', '-m', 'first');
    git('clone', '-q', '--bare', work, path.join(staticDir, 'repo.git'));
    git('--git-dir', path.join(staticDir, 'repo.git'), 'update-server-info');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** An npm registry's files for one package, hello-hangar@1.0.0 (exports 'hello from npm'), its tarball URL on tunnel.test. */
function makeNpmRegistry(staticDir: string): void {
  const work = mkdtempSync(path.join(tmpdir(), 'hangar-egress-npm-'));
  try {
    mkdirSync(path.join(work, 'package'));
    writeFileSync(path.join(work, 'package', 'package.json'), JSON.stringify({ name: 'hello-hangar', version: '1.0.0', main: 'index.js' }));
    writeFileSync(path.join(work, 'package', 'index.js'), "module.exports = 'hello from npm';\n");
    const tarballDir = path.join(staticDir, 'npm', 'hello-hangar', '-');
    mkdirSync(tarballDir, { recursive: true });
    const tarball = path.join(tarballDir, 'hello-hangar-1.0.0.tgz');
    execFileSync('tar', ['-czf', tarball, '-C', work, 'package']);
    const bytes = readFileSync(tarball);
    const dist = {
      tarball: 'https://tunnel.test:8443/static/npm/hello-hangar/-/hello-hangar-1.0.0.tgz',
      shasum: createHash('sha1').update(bytes).digest('hex'),
      integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
    };
    const packument = {
      name: 'hello-hangar',
      'dist-tags': { latest: '1.0.0' },
      versions: { '1.0.0': { name: 'hello-hangar', version: '1.0.0', main: 'index.js', dist } },
    };
    writeFileSync(path.join(staticDir, 'npm', 'hello-hangar.json'), JSON.stringify(packument));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe.skipIf(!isRoot)('egress through the proxy, by a real agent', () => {
  let upstream: EgressUpstream;
  let harness: Harness;
  let task: TaskView;
  let report: string;

  const staticDir = mkdtempSync(path.join(tmpdir(), 'hangar-egress-static-'));

  beforeAll(async () => {
    makeGitRepository(staticDir);
    makeNpmRegistry(staticDir);
    upstream = await startEgressUpstream(SECRET, staticDir);
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
      ['git_clone', 'git clone -q https://tunnel.test:8443/static/repo.git /tmp/clone && cat /tmp/clone/README.md'],
      [
        'npm_install',
        'mkdir -p /tmp/npm-project && cd /tmp/npm-project && npm install --no-audit --no-fund --fetch-retries=0 --registry https://tunnel.test:8443/static/npm/ hello-hangar > /tmp/npm.log 2>&1; node -p "require(\'/tmp/npm-project/node_modules/hello-hangar\')" || tail -5 /tmp/npm.log',
      ],
      [
        'npm_denied',
        'cd /tmp/npm-project && npm install --no-audit --no-fund --fetch-retries=0 --registry https://registry.npmjs.org/ left-pad 2>&1 | grep -m1 -i -E "403|tunnel|forbidden"',
      ],
      ['placeholder', 'printenv GITHUB_TOKEN'],
      ['leaked', `env | grep -c ${SECRET}`],
      ['declared', 'curl -sS -m 20 -H "Authorization: Bearer $DECLARED_TOKEN" https://mirror.test:8443/declared'],
      ['declared_placeholder', 'printenv DECLARED_TOKEN'],
      // The declared value, looked for without the script ever holding it whole: a pattern file made from its halves.
      ['declared_pattern', `printf %s%s ${DECLARED_HALVES[0]} ${DECLARED_HALVES[1]} > /tmp/declared.pat && wc -c < /tmp/declared.pat`],
      ['declared_in_files', 'grep -rlsF -f /tmp/declared.pat /workspace /home /tmp /etc /run /var | grep -vx /tmp/declared.pat | wc -l'],
      ['declared_in_proc', 'cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | grep -caF -f /tmp/declared.pat'],
      // The same searches find the value where it is put on purpose (after the checks above).
      ['declared_control_file', 'cp /tmp/declared.pat /tmp/control.txt && grep -rlsF -f /tmp/declared.pat /tmp | grep -c control.txt; rm -f /tmp/control.txt'],
      ['declared_control_proc', 'CONTROL="$(cat /tmp/declared.pat)" cat /proc/self/environ | grep -caF -f /tmp/declared.pat'],
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
      network: {
        allowedHosts: ['mirror.test:8080', 'mirror.test:8443', 'tunnel.test:8443', '169.254.169.254:80'],
        secrets: ['GITHUB_TOKEN', { name: 'DECLARED_TOKEN', value: DECLARED, hosts: ['mirror.test:8443'] }],
      },
      maxTurns: 4,
    });
    report = toolResultsSent(harness.model).join('\n');
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
    upstream?.close();
    delete process.env.HANGAR_TEST_EGRESS_SECRET;
    rmSync(staticDir, { recursive: true, force: true });
  });

  const line = (name: string): string => checkOutput(report, name);

  it('reaches allowed hosts over plain HTTP, tunnelled TLS and intercepted TLS', () => {
    expect(task.error).toBeNull();
    expect(task.result).toBe('network checked');
    expect(line('plain')).toBe('hello-plain');
    expect(line('intercepted')).toBe('hello-tls');
    expect(line('tunnelled')).toBe('hello-tls');
  });

  it('lets git clone over HTTPS and npm install from a registry mirror through the proxy; a registry not allowed fails clearly', () => {
    expect(line('git_clone')).toBe('hello from git');
    expect(line('npm_install')).toBe('hello from npm');
    expect(line('npm_denied')).toMatch(/403|tunnel|forbidden/i);
  });

  it('puts the secret in for its host only; the sandbox sees a placeholder', () => {
    expect(line('secret')).toBe('auth-ok');
    expect(upstream.seen.find((request) => request.path === '/auth')?.authorization).toBe(`Bearer ${SECRET}`);
    expect(line('placeholder')).toMatch(/^hangar-secret-GITHUB_TOKEN-[0-9a-f]{24}$/);
    expect(line('leaked')).toBe('0');
    expect(report).not.toContain(SECRET);
    expect(JSON.stringify(task)).not.toContain(SECRET);
  });

  it('puts a secret the task declared with its value in for its host; the sandbox, the record and the database never hold the value', async () => {
    expect(line('declared')).toBe('hello-tls');
    expect(upstream.seen.find((request) => request.path === '/declared')?.authorization).toBe(`Bearer ${DECLARED}`);
    expect(line('declared_placeholder')).toMatch(/^hangar-secret-DECLARED_TOKEN-[0-9a-f]{24}$/);
    expect(line('declared_pattern')).toBe(String(DECLARED.length));
    expect(line('declared_in_files')).toBe('0');
    expect(line('declared_in_proc')).toBe('0');
    expect(line('declared_control_file')).toBe('1');
    expect(line('declared_control_proc')).toBe('1');
    expect(report).not.toContain(DECLARED);
    const read = await harness.client.getTask(task.id);
    expect(read.options.network).toEqual({
      allowedHosts: ['mirror.test:8080', 'mirror.test:8443', 'tunnel.test:8443', '169.254.169.254:80'],
      secrets: ['GITHUB_TOKEN', { name: 'DECLARED_TOKEN', hosts: ['mirror.test:8443'] }],
    });
    expect(JSON.stringify(read)).not.toContain(DECLARED);
    expect(JSON.stringify(await harness.hangar.store.egress.list(task.id, { limit: 100 }))).not.toContain(DECLARED);
    for (const file of readdirSync(harness.dataDir).filter((name) => name.includes('.db'))) {
      expect(readFileSync(path.join(harness.dataDir, file)).toString('latin1'), file).not.toContain(DECLARED);
    }
    // The task has ended: its declared secret is no longer stored, even sealed.
    expect(await harness.hangar.store.secrets.list({ kind: 'task', id: task.id })).toEqual([]);
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
