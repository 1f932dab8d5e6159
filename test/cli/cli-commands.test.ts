// The CLI's commands for every API resource, as a user runs them against a real `hangar serve`
// (the demo model as its upstream): the server named once through HANGAR_URL, readable output and
// --json, and the server's own log on stderr as readable lines, one per request.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, stopCli, waitForOutput, type CliProcess } from '../helpers/cli-process.js';

describe('hangar CLI commands against a running server', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-cli-commands-'));
  // Sandbox uids traverse the data directory to reach their workspaces.
  chmodSync(directory, 0o711);
  let server: CliProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = startCli(['serve', '--demo', '--port', '0', '--data-dir', path.join(directory, 'data')]);
    const url = (await waitForOutput(server, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    // The CLI finds the server's admin key in the data directory, as a user's local CLI does.
    env = { HANGAR_URL: url, HANGAR_DATA_DIR: path.join(directory, 'data') };
  }, 60_000);
  afterAll(async () => {
    if (server !== undefined) await stopCli(server);
    rmSync(directory, { recursive: true, force: true });
  });

  /** Runs `hangar <args>` with HANGAR_URL set and no --server; fails with its output unless it exits 0. */
  async function hangar(...args: string[]): Promise<string> {
    const finished = await startCli(args, env).done;
    if (finished.code !== 0) throw new Error(`hangar ${args.join(' ')} exited ${finished.code}:\n${finished.stdout}\n${finished.stderr}`);
    return finished.stdout;
  }

  it('takes the server from HANGAR_URL; --server still wins', async () => {
    expect(await hangar('sessions', 'ls')).toMatch(/no sessions/);
    const wrong = await startCli(['sessions', 'ls', '--server', 'http://127.0.0.1:9'], env).done;
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot reach the server.*\n.*HANGAR_URL/);
  }, 30_000);

  it('finds the admin key in the data directory; keys create, ls and revoke; a missing or read-only key is refused with a hint', async () => {
    const empty = path.join(directory, 'no-key-here');
    mkdirSync(empty, { recursive: true });
    const anonymous = await startCli(['sessions', 'ls'], { HANGAR_URL: env.HANGAR_URL!, HANGAR_DATA_DIR: empty }).done;
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/API key is required.*HANGAR_API_KEY/);
    const token = (await hangar('keys', 'create', '--name', 'reader', '--scopes', 'read')).trim();
    expect(token).toMatch(/^hgk_[0-9a-f]{16}_/);
    const listed = await hangar('keys', 'ls');
    expect(listed).toMatch(/admin\s+active\s+admin \(first start\)/);
    expect(listed).toMatch(/read\s+active\s+reader/);
    expect(listed).not.toContain(token.slice(21));
    const asReader = { HANGAR_URL: env.HANGAR_URL!, HANGAR_API_KEY: token };
    expect((await startCli(['sessions', 'ls'], asReader).done).code).toBe(0);
    const refused = await startCli(['sessions', 'new'], asReader).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has scopes read; POST \/v1\/sessions needs run/);
    expect(await hangar('keys', 'revoke', token.slice(4, 20))).toMatch(/revoked/);
    expect((await startCli(['sessions', 'ls'], asReader).done).stderr).toMatch(/revoked/);
  }, 60_000);

  it('tenants create, ls, show, set-policy and usage; keys create --tenant makes a key that sees only its tenant', async () => {
    expect(await hangar('tenants', 'create', 'acme', '--name', 'Acme', '--policy', '{"maxTurns": 4, "dailyBudgetUsd": 20}')).toMatch(
      /acme {2}Acme.*\n.*"maxTurns":4/,
    );
    const badPolicy = await startCli(['tenants', 'set-policy', 'acme', '--policy', '{"maxTurns": "many"}'], env).done;
    expect(badPolicy.code).not.toBe(0);
    expect(badPolicy.stderr).toMatch(/policy is not valid: maxTurns/);
    expect(await hangar('tenants', 'set-policy', 'acme', '--policy', '{"maxTurns": 2}')).toMatch(/"maxTurns":2/);
    expect(await hangar('tenants', 'ls')).toMatch(/default[\s\S]*acme/);
    const token = (await hangar('keys', 'create', '--name', 'acme runner', '--scopes', 'run', '--tenant', 'acme')).trim();
    const asAcme = { HANGAR_URL: env.HANGAR_URL!, HANGAR_API_KEY: token };
    const tooMany = await startCli(['sessions', 'new', '--max-turns', '3'], asAcme).done;
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/POLICY_VIOLATION|maxTurns 3 is over the limit of 2/);
    expect(await hangar('tenants', 'usage', 'acme')).toMatch(/acme on \d{4}-\d{2}-\d{2}: \$0\.0000 no daily budget, 0 model calls/);
    expect(await hangar('keys', 'ls', '--tenant', 'acme')).toMatch(/acme\s+run\s+active\s+acme runner/);
  }, 60_000);

  it('sessions new --secret-from-env declares a secret with the value of a variable of the shell, never shown back', async () => {
    const value = 'cli-declared-secret-value-4d1f';
    const withValue = { ...env, DEPLOY_TOKEN: value };
    const made = await startCli(
      ['sessions', 'new', '--json', '--allow-host', 'api.example.com', '--secret-from-env', 'DEPLOY_TOKEN=api.example.com'],
      withValue,
    ).done;
    expect(made.code, made.stderr).toBe(0);
    const session = JSON.parse(made.stdout) as { id: string; options: { network: { secrets: unknown[] } } };
    expect(session.options.network.secrets).toEqual([expect.objectContaining({ name: 'DEPLOY_TOKEN', hosts: ['api.example.com'] })]);
    expect(made.stdout + made.stderr).not.toContain(value);
    expect(await hangar('sessions', 'show', session.id, '--json')).not.toContain(value);
    const unset = await startCli(['sessions', 'new', '--secret-from-env', 'NOT_SET_ANYWHERE=api.example.com'], env).done;
    expect(unset.code).not.toBe(0);
    expect(unset.stderr).toMatch(/\$NOT_SET_ANYWHERE is not set in this shell/);
    await hangar('sessions', 'rm', session.id);
  }, 60_000);

  it('sessions new takes budget, files, resources, metadata and max turns; show, ls --json, send, checkpoints, hibernate, interrupt', async () => {
    const local = path.join(directory, 'notes-local.md');
    writeFileSync(local, '# notes\n');
    const created = JSON.parse(
      await hangar(
        'sessions',
        'new',
        '--json',
        '--max-budget-usd',
        '2.5',
        '--file',
        `docs/notes.md=${local}`,
        '--memory-mb',
        '512',
        '--cpus',
        '1',
        '--disk-mb',
        '256',
        '--pids',
        '256',
        '--metadata',
        'team=core',
        '--metadata',
        'ticket=42',
        '--max-turns',
        '4',
        '--allowed-tools',
        'Bash,Read',
      ),
    ) as { id: string; metadata: Record<string, string>; options: Record<string, unknown> };
    expect(created.id).toMatch(/^sess_/);
    expect(created.metadata).toEqual({ team: 'core', ticket: '42' });
    expect(created.options).toMatchObject({ maxBudgetUsd: 2.5, maxTurns: 4, allowedTools: ['Bash', 'Read'] });
    expect(created.options.resources).toMatchObject({ memoryMb: 512, cpus: 1, diskMb: 256, pids: 256 });

    expect(await hangar('sessions', 'show', created.id)).toMatch(
      new RegExp(`^id:\\s+${created.id}$[\\s\\S]*^metadata:\\s+\\{"team":"core","ticket":"42"\\}$`, 'm'),
    );
    const listed = JSON.parse(await hangar('sessions', 'ls', '--json', '--metadata', 'team=core')) as Array<{ id: string }>;
    expect(listed.map((session) => session.id)).toEqual([created.id]);

    const sent = await hangar('sessions', 'send', created.id, 'cat docs/notes.md', '--follow');
    expect(sent).toMatch(/turn done: /);
    const checkpoints = await hangar('checkpoints', 'ls', created.id);
    expect(checkpoints).toMatch(/^ckpt_\S+\s+turn\s+1\s+\d+ bytes/m);
    const listedCheckpoints = JSON.parse(await hangar('checkpoints', 'ls', created.id, '--json')) as Array<{ turn: number }>;
    expect(listedCheckpoints[0]?.turn).toBe(1);
    expect(await hangar('sessions', 'interrupt', created.id)).toBe(`${created.id}: no turn was running\n`);
    expect(await hangar('sessions', 'hibernate', created.id)).toBe(`${created.id} hibernated\n`);
  }, 120_000);

  it('schedules add, ls and rm', async () => {
    const session = (await hangar('sessions', 'new')).trim();
    const scheduleId = (await hangar('schedules', 'add', session, 'check the build', '--every', '1d')).trim();
    expect(await hangar('schedules', 'ls', session)).toMatch(new RegExp(`^${scheduleId}\\s+1d\\s+next \\S+\\s+check the build$`, 'm'));
    expect(await hangar('schedules', 'rm', session, scheduleId)).toBe(`${scheduleId} removed\n`);
    expect(await hangar('schedules', 'ls', session)).toBe('no schedules\n');
  }, 60_000);

  it('sandboxes new, ls, show and rm', async () => {
    const sandboxId = (await hangar('sandboxes', 'new', '--memory-mb', '512')).trim();
    const member = (await hangar('sessions', 'new', '--sandbox', sandboxId)).trim();
    expect(await hangar('sandboxes', 'ls')).toMatch(new RegExp(`^${sandboxId}\\s+active .*"memoryMb":512.*sessions ${member}$`, 'm'));
    const shown = JSON.parse(await hangar('sandboxes', 'show', sandboxId, '--json')) as { sessions: string[]; status: string };
    expect(shown).toMatchObject({ status: 'active', sessions: [member] });
    expect(await hangar('sandboxes', 'show', sandboxId)).toMatch(/^status:\s+active$/m);
    expect(await hangar('sandboxes', 'rm', sandboxId)).toBe(`${sandboxId} closed\n`);
    expect(await hangar('sandboxes', 'ls')).toBe('no sandboxes\n');
    const all = JSON.parse(await hangar('sandboxes', 'ls', '--all', '--json')) as Array<{ id: string; status: string }>;
    expect(all.find((sandbox) => sandbox.id === sandboxId)?.status).toBe('closed');
  }, 60_000);

  it('logs readable lines on stderr, one per request, with no JSON or stack traces', async () => {
    await hangar('tasks', 'ls', '--limit', '7');
    // The server logs a request once its answer is sent: wait for the line, then read the whole log.
    await waitForOutput(server, /url=\/v1\/tasks\?limit=7/);
    const log = server.stderr();
    const lines = log.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /);
    expect(log).not.toMatch(/^\s+at /m);
    expect(
      lines.filter((line) => line.includes('url=/v1/tasks?limit=7')),
      log,
    ).toEqual([expect.stringMatching(/INFO {2}request (reqId=\S+ )?method=GET url=\/v1\/tasks\?limit=7 statusCode=200 /)]);
    expect(log).not.toMatch(/incoming request|request completed/);
  }, 30_000);

  it('serve --log-file writes JSON lines under the data directory and keeps stderr free of logs', async () => {
    const dataDir = path.join(directory, 'logged');
    const logged = startCli(['serve', '--demo', '--port', '0', '--data-dir', dataDir, '--log-file']);
    try {
      const url = (await waitForOutput(logged, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      await waitForOutput(logged, /^logs: .*hangar\.log$/m);
      await fetch(`${url}/v1/sessions?limit=3`);
    } finally {
      await stopCli(logged);
    }
    const lines = readFileSync(path.join(dataDir, 'hangar.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string; url?: string });
    expect(lines.filter((line) => line.url === '/v1/sessions?limit=3').map((line) => line.msg)).toEqual(['request']);
    // Only the shutdown notice of SIGTERM is on stderr.
    expect(
      logged
        .stderr()
        .split('\n')
        .filter((line) => line !== '' && line !== 'SIGTERM: shutting down'),
    ).toEqual([]);
  }, 60_000);
});
