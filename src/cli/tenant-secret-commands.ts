// `hangar tenants secrets set|ls|rm`: a tenant's own secrets on a running server (its admin key, or
// the operator's). The value is read from stdin (piped, or typed at a terminal without echo) or from
// an environment variable named by --from-env: never from the command line, where `ps` and shell
// history would show it. The server stores it sealed and never shows it again.
import { InvalidArgumentError, type Command } from 'commander';
import { deleteTenantSecret, listTenantSecrets, setTenantSecret, type TenantSecretInput, type TenantSecretView } from '../client/tenant-secrets.js';
import { clientFor, jsonOption, printJson, serverOption, splitList } from './cli-options.js';

/** Most bytes read from stdin: more than any value the server takes (16 KiB). */
const MAX_STDIN_BYTES = 64 * 1024;

/** Everything piped to stdin, less one final line break. */
async function readPipedValue(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_STDIN_BYTES) throw new InvalidArgumentError(`the value on stdin is over ${MAX_STDIN_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** One line typed at the terminal, not echoed; Ctrl-C cancels. */
function readHiddenLine(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n' || character === '\u0004') {
          finish();
          return resolve(line);
        }
        if (character === '\u0003') {
          finish();
          return reject(new InvalidArgumentError('cancelled: no secret was set'));
        }
        line = character === '\u007f' || character === '\b' ? line.slice(0, -1) : line + character;
      }
    };
    input.on('data', onData);
  });
}

/** The secret's value: from the variable --from-env names, else stdin. */
async function readValue(name: string, fromEnv: string | undefined): Promise<string> {
  const value =
    fromEnv !== undefined ? process.env[fromEnv] : process.stdin.isTTY ? await readHiddenLine(`value of ${name} (not shown): `) : await readPipedValue();
  if (value === undefined || value === '') {
    throw new InvalidArgumentError(
      fromEnv !== undefined
        ? `environment variable ${fromEnv} is not set or empty`
        : `no value on stdin: pipe it in (printf %s "$TOKEN" | hangar tenants secrets set ...) or name a variable with --from-env`,
    );
  }
  return value;
}

/** How the proxy puts the value in, from --header and --template. */
function injectionOf(flags: { header?: string; template?: string }): TenantSecretInput['inject'] {
  if (flags.header === undefined) {
    if (flags.template !== undefined) throw new InvalidArgumentError('--template needs --header: the header the template fills');
    return undefined;
  }
  return { header: flags.header, ...(flags.template !== undefined ? { template: flags.template } : {}) };
}

function describeSecret(secret: TenantSecretView): string {
  const inject =
    secret.inject === 'placeholder'
      ? 'placeholder'
      : `header ${secret.inject.header}${secret.inject.template !== undefined ? `: ${secret.inject.template}` : ''}`;
  return `${secret.name}  hosts ${secret.hosts.join(',')}  ${inject}  updated ${secret.updatedAt}`;
}

/** Adds `secrets set|ls|rm` under `hangar tenants`. */
export function registerTenantSecretCommands(tenants: Command): void {
  const secrets = tenants
    .command('secrets')
    .description("a tenant's own secrets: its tasks and sessions name them in network.secrets (--secret NAME) and see only a placeholder");

  jsonOption(serverOption(secrets.command('set')))
    .argument('<tenant>', 'tenant id')
    .argument('<name>', 'the secret: the environment variable the sandbox sees its placeholder in')
    .requiredOption('--hosts <rules>', 'comma-separated host rules the value may be sent to, e.g. api.github.com,*.example.com')
    .option('--header <header>', 'the proxy sets this header to the value (default: it replaces the placeholder in headers)')
    .option('--template <template>', 'the header\'s text with {value} in it, e.g. "Bearer {value}"')
    .option('--from-env <variable>', 'take the value from this environment variable instead of stdin')
    .description('set (or replace) a secret; the value comes from stdin or --from-env, never the command line')
    .action(
      async (tenant: string, name: string, flags: { server: string; json?: boolean; hosts: string; header?: string; template?: string; fromEnv?: string }) => {
        const inject = injectionOf(flags);
        const value = await readValue(name, flags.fromEnv);
        const secret = await setTenantSecret(clientFor(flags), tenant, name, {
          value,
          hosts: splitList(flags.hosts),
          ...(inject !== undefined ? { inject } : {}),
        });
        if (flags.json) return printJson(secret);
        process.stdout.write(`set ${describeSecret(secret)}\n`);
      },
    );

  jsonOption(serverOption(secrets.command('ls')))
    .argument('<tenant>', 'tenant id')
    .description("list a tenant's secrets: name, hosts, how it is put in, last set (never a value)")
    .action(async (tenant: string, flags: { server: string; json?: boolean }) => {
      const listed = await listTenantSecrets(clientFor(flags), tenant);
      if (flags.json) return printJson(listed);
      if (listed.length === 0) return void process.stdout.write(`tenant ${tenant} has no secrets\n`);
      for (const secret of listed) process.stdout.write(`${describeSecret(secret)}\n`);
    });

  serverOption(secrets.command('rm'))
    .argument('<tenant>', 'tenant id')
    .argument('<name>', 'the secret')
    .description('delete a secret: sandboxes set up from now on do not get it')
    .action(async (tenant: string, name: string, flags: { server: string }) => {
      await deleteTenantSecret(clientFor(flags), tenant, name);
      process.stdout.write(`deleted secret ${name} of tenant ${tenant}\n`);
    });
}
