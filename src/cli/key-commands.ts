// `hangar keys create|ls|revoke`: API keys of a running server (needs an admin key: the one a
// local server wrote to its data directory, or HANGAR_API_KEY).
import { InvalidArgumentError, type Command } from 'commander';
import { clientFor, jsonOption, printJson, serverOption, splitList } from './cli-options.js';

const SCOPES = ['admin', 'run', 'read'] as const;
type Scope = (typeof SCOPES)[number];

function parseScopes(value: string): Scope[] {
  const scopes = splitList(value).map((scope) => scope.trim());
  for (const scope of scopes) {
    if (!(SCOPES as readonly string[]).includes(scope)) throw new InvalidArgumentError(`unknown scope "${scope}": use admin, run or read (comma-separated)`);
  }
  return scopes as Scope[];
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('API keys of a running server (admin)');

  jsonOption(serverOption(keys.command('create')))
    .requiredOption('--name <name>', 'what the key is for')
    .option('--scopes <scopes>', 'comma-separated: admin, run (tasks, sessions, sandboxes), read (GET only)', parseScopes, ['run', 'read'] as Scope[])
    .option('--tenant <id>', "the tenant the key acts for (default the caller's; another tenant: operator only)")
    .description('make an API key and print its token (shown this once)')
    .action(async (flags: { server: string; json?: boolean; name: string; scopes: Scope[]; tenant?: string }) => {
      const created = await clientFor(flags).createApiKey({
        name: flags.name,
        scopes: flags.scopes,
        ...(flags.tenant !== undefined ? { tenantId: flags.tenant } : {}),
      });
      if (flags.json) return printJson(created);
      process.stdout.write(`${created.token}\n`);
      process.stderr.write(
        `key ${created.key.id} of tenant ${created.key.tenantId} (${created.key.scopes.join(', ')}): the token above is shown this once; send it as HANGAR_API_KEY or Authorization: Bearer\n`,
      );
    });

  jsonOption(serverOption(keys.command('ls')))
    .option('--tenant <id>', "only this tenant's keys (operator)")
    .description('list API keys: id, tenant, scopes, name, created, revoked, last used (never a secret)')
    .action(async (flags: { server: string; json?: boolean; tenant?: string }) => {
      const listed = await clientFor(flags).listApiKeys(flags.tenant !== undefined ? { tenantId: flags.tenant } : {});
      if (flags.json) return printJson(listed);
      for (const key of listed) {
        process.stdout.write(
          `${key.id}  ${key.tenantId.padEnd(12)} ${key.scopes.join(',').padEnd(14)} ${key.revokedAt === null ? 'active ' : 'revoked'}  ${key.name}  created ${key.createdAt}${key.lastUsedAt !== null ? `, used ${key.lastUsedAt}` : ''}\n`,
        );
      }
    });

  jsonOption(serverOption(keys.command('revoke')))
    .argument('<id>', 'key id (hangar keys ls)')
    .description('revoke an API key: requests with it are refused (401) at once')
    .action(async (id: string, flags: { server: string; json?: boolean }) => {
      const revoked = await clientFor(flags).revokeApiKey(id);
      if (flags.json) return printJson(revoked);
      process.stdout.write(`revoked ${revoked.id}\n`);
    });
}
