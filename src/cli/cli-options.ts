// Option parsers and helpers shared by the CLI's command groups.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ADMIN_KEY_FILE } from '../auth/admin-key.js';
import { HangarClient } from '../client/hangar-client.js';
import { HangarError } from '../errors/errors.js';
import { CLI_RETRY } from './output.js';

/** The server of commands that talk to one, when neither --server nor HANGAR_URL names it. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';

export function parseInteger(label: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${label} must be a whole number, got "${value}"`);
    return parsed;
  };
}

export function parseNumber(label: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${label} must be a positive number, got "${value}"`);
    return parsed;
  };
}

/** Accumulates a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Accumulates a repeatable `key=value` option into an object. */
export function collectKeyValue(label: string) {
  return (value: string, previous: Record<string, string>): Record<string, string> => {
    const at = value.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`${label} takes key=value, got "${value}"`);
    return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
  };
}

/** A comma-separated list (tools), blanks dropped. Permission rules may hold commas only inside parentheses. */
export function splitList(value: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const character of value) {
    if (character === '(') depth += 1;
    if (character === ')') depth = Math.max(0, depth - 1);
    if (character === ',' && depth === 0) {
      items.push(current);
      current = '';
    } else {
      current += character;
    }
  }
  items.push(current);
  return items.map((item) => item.trim()).filter(Boolean);
}

/** `--file name[=local path]` entries read into workspace files (name -> UTF-8 content). */
export function readLocalFiles(entries: string[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const [name, source] = at > 0 ? [entry.slice(0, at), entry.slice(at + 1)] : [path.basename(entry), entry];
    try {
      files[name] = readFileSync(source, 'utf8');
    } catch (error) {
      throw new HangarError('BAD_REQUEST', `cannot read --file ${source}: ${(error as Error).message}`);
    }
  }
  return files;
}

export interface ResourceFlags {
  memoryMb?: number;
  cpus?: number;
  diskMb?: number;
  pids?: number;
}

/** Adds --memory-mb, --cpus, --disk-mb and --pids to a command. */
export function resourceOptions(command: Command): Command {
  return command
    .option('--memory-mb <n>', 'sandbox memory limit', parseInteger('--memory-mb'))
    .option('--cpus <n>', 'sandbox CPU cores', parseNumber('--cpus'))
    .option('--disk-mb <n>', 'sandbox workspace size', parseInteger('--disk-mb'))
    .option('--pids <n>', 'most processes in the sandbox', parseInteger('--pids'));
}

/** The resources a request asks for, or undefined when no flag named one. */
export function resourcesFromFlags(flags: ResourceFlags): ResourceFlags | undefined {
  const resources = {
    ...(flags.memoryMb !== undefined ? { memoryMb: flags.memoryMb } : {}),
    ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
    ...(flags.diskMb !== undefined ? { diskMb: flags.diskMb } : {}),
    ...(flags.pids !== undefined ? { pids: flags.pids } : {}),
  };
  return Object.keys(resources).length > 0 ? resources : undefined;
}

export interface NetworkFlags {
  allowHost: string[];
  preset: string[];
  secret: string[];
  secretFromEnv: DeclaredSecretFlag[];
  learn?: boolean;
}

/** A secret declared with its value, from --secret-from-env NAME=host[,host...]: the value is the CLI's own $NAME. */
export interface DeclaredSecretFlag {
  name: string;
  value: string;
  hosts: string[];
}

/** Parses one --secret-from-env; the value comes from this process's environment, never from the command line. */
function collectSecretFromEnv(value: string, previous: DeclaredSecretFlag[]): DeclaredSecretFlag[] {
  const at = value.indexOf('=');
  const name = at === -1 ? value : value.slice(0, at);
  const hosts = at === -1 ? [] : splitList(value.slice(at + 1));
  if (name === '' || hosts.length === 0)
    throw new InvalidArgumentError(`--secret-from-env takes NAME=host[,host...] (the hosts the value may go to), got "${value}"`);
  const secret = process.env[name];
  if (secret === undefined || secret === '')
    throw new InvalidArgumentError(
      `--secret-from-env ${name}: $${name} is not set in this shell; export it first (the value is never taken from the command line)`,
    );
  return [...previous, { name, value: secret, hosts }];
}

/** Adds --allow-host, --preset, --secret and --learn (the network option) to a command. */
export function networkOptions(command: Command): Command {
  return command
    .option('--allow-host <rule>', 'a host the agent may reach: name, *.suffix, with an optional :port (repeatable)', collect, [])
    .option('--preset <name>', 'a named set of hosts: npm, pypi, github, debian, anthropic (repeatable)', collect, [])
    .option('--secret <name>', "a configured or the tenant's secret the agent gets as a placeholder (repeatable)", collect, [])
    .option(
      '--secret-from-env <NAME=hosts>',
      'declare secret NAME with the value of $NAME in this shell, for the comma-separated hosts only; the agent gets a placeholder (repeatable)',
      collectSecretFromEnv,
      [],
    )
    .option('--learn', 'allow no host, record every host the agent tries (see `egress <id> --denied`)');
}

/** The network option a request asks for, or undefined when no flag named one. */
export function networkFromFlags(
  flags: NetworkFlags,
): { allowedHosts?: string[]; presets?: string[]; secrets?: Array<string | DeclaredSecretFlag>; mode?: 'learn' } | undefined {
  const secrets = [...flags.secret, ...flags.secretFromEnv];
  const network = {
    ...(flags.allowHost.length > 0 ? { allowedHosts: flags.allowHost } : {}),
    ...(flags.preset.length > 0 ? { presets: flags.preset } : {}),
    ...(secrets.length > 0 ? { secrets } : {}),
    ...(flags.learn === true ? { mode: 'learn' as const } : {}),
  };
  return Object.keys(network).length > 0 ? network : undefined;
}

/** Adds -s/--server (default $HANGAR_URL, else DEFAULT_SERVER_URL) to a command. */
export function serverOption(command: Command): Command {
  return command.addOption(new Option('-s, --server <url>', 'Hangar server').env('HANGAR_URL').default(DEFAULT_SERVER_URL));
}

/** Adds --json (machine-readable output) to a command. */
export function jsonOption(command: Command): Command {
  return command.option('--json', 'print JSON instead of text');
}

/**
 * The API key the CLI sends: $HANGAR_API_KEY, else the admin key a local server wrote to its data
 * directory ($HANGAR_DATA_DIR, default .hangar, as the configuration's dataDir), else none.
 */
export function cliApiKey(dataDir = process.env.HANGAR_DATA_DIR ?? '.hangar'): string | undefined {
  const fromEnvironment = process.env.HANGAR_API_KEY?.trim();
  if (fromEnvironment !== undefined && fromEnvironment !== '') return fromEnvironment;
  try {
    const token = readFileSync(path.join(dataDir, ADMIN_KEY_FILE), 'utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

export function clientFor(flags: { server: string }): HangarClient {
  return new HangarClient(flags.server, { apiKey: cliApiKey(), retry: CLI_RETRY });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints an object as aligned `key: value` lines (nested values as compact JSON). */
export function printFields(record: Record<string, unknown>, keys: string[] = Object.keys(record)): void {
  const width = Math.max(...keys.map((key) => key.length));
  for (const key of keys) {
    const value = record[key];
    const shown = value === null || value === undefined ? '-' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    process.stdout.write(`${`${key}:`.padEnd(width + 2)}${shown}\n`);
  }
}
