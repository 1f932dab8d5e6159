// `hangar tenants secrets set|ls|rm` as a user runs them against a real `hangar serve`: the value
// piped to stdin (or named by --from-env), never on the command line, reaches the server exactly
// (opened here from the server's store with its key) and is never printed; ls shows names, hosts
// and injection; rm deletes; another tenant's admin is told the tenant does not exist.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, resolveDataPaths } from '../../src/config/config.js';
import { createSecretSealer, createTenantSecrets, loadOrCreateSecretsKey } from '../../src/egress/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { startCli, stopCli, waitForOutput, type CliProcess, type Finished } from '../helpers/cli-process.js';
import { useTempDir } from '../helpers/temp-dirs.js';

const VALUE = `ghp_cli-secret-${Date.now()}`;
const ENV_VALUE = `npm-cli-secret-${Date.now()}`;

describe('hangar tenants secrets', () => {
  const directory = useTempDir('hangar-cli-tenant-secrets-');
  const dataDir = path.join(directory, 'data');
  let server: CliProcess;
  let env: Record<string, string>;
  const outputs: string[] = [];

  beforeAll(async () => {
    server = startCli(['serve', '--demo', '--port', '0', '--data-dir', dataDir]);
    const url = (await waitForOutput(server, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    // The CLI finds the operator's admin key in the data directory.
    env = { HANGAR_URL: url, HANGAR_DATA_DIR: dataDir };
  }, 60_000);
  afterAll(async () => {
    if (server !== undefined) await stopCli(server);
  });

  /** Runs `hangar <args>`, keeping its output to search for values. */
  async function run(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Finished> {
    const finished = await startCli(args, { ...env, ...options.env }, options.input !== undefined ? { input: options.input } : {}).done;
    outputs.push(finished.stdout, finished.stderr);
    return finished;
  }
  async function hangar(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<string> {
    const finished = await run(args, options);
    if (finished.code !== 0) throw new Error(`hangar ${args.join(' ')} exited ${finished.code}:\n${finished.stdout}\n${finished.stderr}`);
    return finished.stdout;
  }
  /** The acme secrets as the server stored them, opened with its key (what a sandbox set up now would get). */
  async function storedValues(): Promise<Record<string, string>> {
    const config = parseConfig({ dataDir });
    const store = await createSqliteStore({ filePath: resolveDataPaths(config).sqlitePath });
    try {
      const secrets = createTenantSecrets({ secrets: store.secrets, sealer: createSecretSealer(await loadOrCreateSecretsKey(dataDir)) });
      const opened = await secrets.open('acme', await secrets.names('acme'));
      return Object.fromEntries([...opened].map(([name, secret]) => [name, secret.value]));
    } finally {
      await store.close();
    }
  }

  it('sets a secret from stdin or --from-env, lists it without its value, deletes it', async () => {
    await hangar(['tenants', 'create', 'acme']);
    const set = await hangar(
      [
        'tenants',
        'secrets',
        'set',
        'acme',
        'GITHUB_TOKEN',
        '--hosts',
        'api.github.com,*.githubusercontent.com',
        '--header',
        'Authorization',
        '--template',
        'Bearer {value}',
      ],
      { input: `${VALUE}\n` },
    );
    expect(set).toMatch(/^set GITHUB_TOKEN {2}hosts api\.github\.com,\*\.githubusercontent\.com {2}header Authorization: Bearer \{value\} {2}updated \S+\n$/);
    await hangar(['tenants', 'secrets', 'set', 'acme', 'NPM_TOKEN', '--hosts', 'registry.npmjs.org', '--from-env', 'MY_NPM_TOKEN'], {
      env: { MY_NPM_TOKEN: ENV_VALUE },
    });
    // The value exactly as piped, less its line break.
    expect(await storedValues()).toEqual({ GITHUB_TOKEN: VALUE, NPM_TOKEN: ENV_VALUE });

    const listed = await hangar(['tenants', 'secrets', 'ls', 'acme']);
    expect(listed.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^GITHUB_TOKEN {2}hosts api\.github\.com,\*\.githubusercontent\.com {2}header Authorization: Bearer \{value\} {2}updated /),
      expect.stringMatching(/^NPM_TOKEN {2}hosts registry\.npmjs\.org {2}placeholder {2}updated /),
    ]);
    const json = JSON.parse(await hangar(['tenants', 'secrets', 'ls', 'acme', '--json'])) as Array<Record<string, unknown>>;
    expect(json.map((secret) => Object.keys(secret).sort())).toEqual([
      ['createdAt', 'hosts', 'inject', 'name', 'updatedAt'],
      ['createdAt', 'hosts', 'inject', 'name', 'updatedAt'],
    ]);

    expect(await hangar(['tenants', 'secrets', 'rm', 'acme', 'NPM_TOKEN'])).toBe('deleted secret NPM_TOKEN of tenant acme\n');
    expect(await hangar(['tenants', 'secrets', 'ls', 'acme'])).not.toContain('NPM_TOKEN');
    const again = await run(['tenants', 'secrets', 'rm', 'acme', 'NPM_TOKEN']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/SECRET_NOT_FOUND: tenant acme has no secret NPM_TOKEN/);
    expect(await storedValues()).toEqual({ GITHUB_TOKEN: VALUE });
  }, 90_000);

  it('refuses a missing or bad value with a hint, and another tenant with 404; prints no value anywhere', async () => {
    const empty = await run(['tenants', 'secrets', 'set', 'acme', 'OTHER', '--hosts', 'a.test']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/no value on stdin: pipe it in .* or name a variable with --from-env/);
    const unset = await run(['tenants', 'secrets', 'set', 'acme', 'OTHER', '--hosts', 'a.test', '--from-env', 'NOT_SET_HERE']);
    expect(unset.stderr).toMatch(/environment variable NOT_SET_HERE is not set or empty/);
    const template = await run(['tenants', 'secrets', 'set', 'acme', 'OTHER', '--hosts', 'a.test', '--template', 'Bearer {value}'], { input: VALUE });
    expect(template.stderr).toMatch(/--template needs --header/);
    const twoLines = await run(['tenants', 'secrets', 'set', 'acme', 'OTHER', '--hosts', 'a.test'], { input: `${VALUE}\nsecond line\n` });
    expect(twoLines.code).toBe(1);
    expect(twoLines.stderr).toMatch(/VALIDATION_FAILED: .*body\.value: the value must be non-empty, on one line/);

    await hangar(['tenants', 'create', 'zeta']);
    const zetaKey = (await hangar(['keys', 'create', '--tenant', 'zeta', '--name', 'zeta admin', '--scopes', 'admin'])).trim();
    for (const args of [
      ['tenants', 'secrets', 'ls', 'acme'],
      ['tenants', 'secrets', 'rm', 'acme', 'GITHUB_TOKEN'],
    ]) {
      const refused = await run(args, { env: { HANGAR_API_KEY: zetaKey } });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/TENANT_NOT_FOUND: tenant acme does not exist/);
    }
    expect(await storedValues()).toEqual({ GITHUB_TOKEN: VALUE });
    for (const value of [VALUE, ENV_VALUE]) expect(outputs.join('')).not.toContain(value);
    expect(server.stdout() + server.stderr()).not.toContain(VALUE);
  }, 90_000);
});
