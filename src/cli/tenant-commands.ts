// `hangar tenants create|ls|show|set-policy|usage`: tenants of a running server. The operator (an
// admin key of the default tenant, as the local CLI finds it) makes tenants and sets their policies;
// a tenant's admin key reads its own. Keys of a tenant: `hangar keys create --tenant <id>`; its
// secrets: `hangar tenants secrets` (tenant-secret-commands.ts).
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { TenantPolicy, TenantView } from '../client/hangar-client.js';
import { tenantPolicySchema } from '../tenants/tenant-policy.js';
import { clientFor, jsonOption, printJson, serverOption } from './cli-options.js';
import { registerTenantSecretCommands } from './tenant-secret-commands.js';

/** A policy from --policy (JSON text) or --policy-file (a JSON file), checked here so a mistake is named before anything is sent. */
function readPolicy(flags: { policy?: string; policyFile?: string }): TenantPolicy | undefined {
  if (flags.policy !== undefined && flags.policyFile !== undefined) throw new InvalidArgumentError('give --policy or --policy-file, not both');
  const text = flags.policyFile !== undefined ? readFileSync(flags.policyFile, 'utf8') : flags.policy;
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`the policy is not JSON: ${(error as Error).message} (e.g. --policy '{"maxTurns": 10, "dailyBudgetUsd": 20}')`);
  }
  const parsed = tenantPolicySchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(policy)'}: ${issue.message}`).join('; ');
    throw new InvalidArgumentError(`the policy is not valid: ${problems}`);
  }
  return parsed.data;
}

function printTenant(tenant: TenantView): void {
  const policy = Object.keys(tenant.policy).length === 0 ? 'no limits of its own' : JSON.stringify(tenant.policy);
  process.stdout.write(`${tenant.id}  ${tenant.name}  created ${tenant.createdAt}\n  policy: ${policy}\n`);
}

const policyOptions = (command: Command): Command =>
  command
    .option('--policy <json>', 'the policy as JSON: allowedTools, permissionModes, network, maxResources, maxTurns, maxBudgetUsd, dailyBudgetUsd, ...')
    .option('--policy-file <file>', 'the policy from a JSON file');

export function registerTenantCommands(program: Command): void {
  const tenants = program.command('tenants').description('tenants of a running server and their policies (admin)');

  policyOptions(jsonOption(serverOption(tenants.command('create'))))
    .argument('<id>', 'tenant id: lower-case letters, digits, - and _')
    .option('--name <name>', 'a readable name')
    .description('make a tenant (operator); then make its keys with: hangar keys create --tenant <id>')
    .action(async (id: string, flags: { server: string; json?: boolean; name?: string; policy?: string; policyFile?: string }) => {
      const policy = readPolicy(flags);
      const tenant = await clientFor(flags).createTenant({
        id,
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(policy !== undefined ? { policy } : {}),
      });
      if (flags.json) return printJson(tenant);
      printTenant(tenant);
      process.stderr.write(`next: hangar keys create --tenant ${tenant.id} --name "${tenant.id} admin" --scopes admin\n`);
    });

  jsonOption(serverOption(tenants.command('ls')))
    .description('list tenants (the operator sees all; a tenant key its own)')
    .action(async (flags: { server: string; json?: boolean }) => {
      const listed = await clientFor(flags).listTenants();
      if (flags.json) return printJson(listed);
      for (const tenant of listed) printTenant(tenant);
    });

  jsonOption(serverOption(tenants.command('show')))
    .argument('<id>', 'tenant id')
    .description('show a tenant and its policy')
    .action(async (id: string, flags: { server: string; json?: boolean }) => {
      const tenant = await clientFor(flags).getTenant(id);
      if (flags.json) return printJson(tenant);
      printTenant(tenant);
    });

  policyOptions(jsonOption(serverOption(tenants.command('set-policy'))))
    .argument('<id>', 'tenant id')
    .description("replace a tenant's whole policy (operator); '{}' removes every limit of its own")
    .action(async (id: string, flags: { server: string; json?: boolean; policy?: string; policyFile?: string }) => {
      const policy = readPolicy(flags);
      if (policy === undefined) throw new InvalidArgumentError('give the new policy with --policy <json> or --policy-file <file>');
      const tenant = await clientFor(flags).updateTenant(id, { policy });
      if (flags.json) return printJson(tenant);
      printTenant(tenant);
    });

  jsonOption(serverOption(tenants.command('usage')))
    .argument('<id>', 'tenant id')
    .option('--day <YYYY-MM-DD>', 'UTC day (default today)')
    .description("a tenant's model spend of a day and the sandboxes it holds now")
    .action(async (id: string, flags: { server: string; json?: boolean; day?: string }) => {
      const usage = await clientFor(flags).getTenantUsage(id, flags.day);
      if (flags.json) return printJson(usage);
      const budget = usage.dailyBudgetUsd === null ? 'no daily budget' : `of $${usage.dailyBudgetUsd} a day`;
      const ceiling = usage.maxConcurrentSandboxes === null ? '' : ` of ${usage.maxConcurrentSandboxes}`;
      process.stdout.write(
        `${usage.tenantId} on ${usage.day}: $${usage.costUsd.toFixed(4)} ${budget}, ${usage.requests} model calls (${usage.inputTokens} in, ${usage.outputTokens} out tokens); ${usage.liveSandboxes}${ceiling} sandboxes live\n`,
      );
    });

  registerTenantSecretCommands(tenants);
}
