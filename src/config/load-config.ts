// Where the configuration comes from: a JSON file, then environment variables, then command-line
// flags, merged in that order and validated once (config.ts). The only module that reads the
// environment; an invalid value is reported with the variable, flag or file that set it.
import { existsSync, readFileSync } from 'node:fs';
import { HangarError } from '../errors/errors.js';
import { parseConfig, type HangarConfig } from './config.js';

type PlainObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges b over a (objects merge, everything else is replaced). */
export function mergeConfigLayers(a: PlainObject, b: PlainObject): PlainObject {
  const result: PlainObject = { ...a };
  for (const [key, value] of Object.entries(b)) {
    if (value === undefined) continue;
    const existing = result[key];
    result[key] = isPlainObject(existing) && isPlainObject(value) ? mergeConfigLayers(existing, value) : value;
  }
  return result;
}

/** Sets a dotted path (`gateway.upstreamUrl`) in a nested object. */
function setPath(target: PlainObject, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (!isPlainObject(next)) node[key] = {};
    node = node[key] as PlainObject;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** Whether a layer sets the dotted path (or a field under it). */
function hasPath(layer: PlainObject, dotted: string): boolean {
  let node: unknown = layer;
  for (const key of dotted.split('.')) {
    if (!isPlainObject(node) || node[key] === undefined) return false;
    node = node[key];
  }
  return true;
}

/** Environment variables Hangar reads, and the config field each one sets. */
export const ENVIRONMENT_VARIABLES: ReadonlyArray<{ name: string; path: string; kind: 'string' | 'number'; secret?: boolean }> = [
  { name: 'HANGAR_DATA_DIR', path: 'dataDir', kind: 'string' },
  { name: 'HANGAR_AUTH_MODE', path: 'auth.mode', kind: 'string' },
  { name: 'HANGAR_LOG_LEVEL', path: 'logLevel', kind: 'string' },
  { name: 'HANGAR_HOST', path: 'server.host', kind: 'string' },
  { name: 'HANGAR_PORT', path: 'server.port', kind: 'number' },
  { name: 'HANGAR_SQLITE_PATH', path: 'store.sqlitePath', kind: 'string' },
  { name: 'HANGAR_MODEL', path: 'agent.model', kind: 'string' },
  { name: 'HANGAR_MAX_TURNS', path: 'agent.defaultMaxTurns', kind: 'number' },
  { name: 'ANTHROPIC_BASE_URL', path: 'gateway.upstreamUrl', kind: 'string' },
  { name: 'ANTHROPIC_API_KEY', path: 'gateway.upstreamApiKey', kind: 'string', secret: true },
  { name: 'ANTHROPIC_API_KEY_FILE', path: 'gateway.upstreamApiKeyFile', kind: 'string' },
];

function layerFromEnvironment(env: NodeJS.ProcessEnv): PlainObject {
  const layer: PlainObject = {};
  for (const variable of ENVIRONMENT_VARIABLES) {
    const raw = env[variable.name];
    if (raw === undefined || raw === '') continue;
    const value = variable.kind === 'number' ? Number(raw) : raw;
    if (variable.kind === 'number' && !Number.isFinite(value)) {
      throw new HangarError('CONFIG_INVALID', `${variable.name} must be a number, got "${raw}"`);
    }
    setPath(layer, variable.path, value);
  }
  return layer;
}

function layerFromFile(file: string): PlainObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new HangarError('CONFIG_INVALID', `cannot read config file ${file}: ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw new HangarError('CONFIG_INVALID', `config file ${file} must hold a JSON object`);
  return parsed;
}

export interface LoadConfigOptions {
  /** Config file; when absent, ./hangar.config.json is used if it exists. */
  file?: string;
  /** Environment to read (the CLI passes process.env; tests pass their own). */
  env?: NodeJS.ProcessEnv;
  /** Highest-precedence values, from command-line flags. */
  overrides?: PlainObject;
}

/** Builds the configuration from file -> environment -> flags, and validates it once. */
export function loadConfig(options: LoadConfigOptions = {}): HangarConfig {
  const env = options.env ?? {};
  const file = options.file ?? (existsSync('hangar.config.json') ? 'hangar.config.json' : undefined);
  const fileLayer = file ? layerFromFile(file) : {};
  const envLayer = layerFromEnvironment(env);
  const flagLayer = options.overrides ?? {};
  const merged = mergeConfigLayers(mergeConfigLayers(fileLayer, envLayer), flagLayer);
  // The layer that won names the field's origin: a flag, else a variable, else the file.
  const originOf = (dotted: string): string | undefined => {
    if (hasPath(flagLayer, dotted)) return 'a command-line flag';
    const variable = ENVIRONMENT_VARIABLES.find((candidate) => candidate.path === dotted && hasPath(envLayer, dotted));
    if (variable !== undefined) {
      const raw = String(env[variable.name]);
      return variable.secret === true ? variable.name : `${variable.name}=${JSON.stringify(raw.length > 100 ? `${raw.slice(0, 100)}...` : raw)}`;
    }
    return file !== undefined && hasPath(fileLayer, dotted) ? `config file ${file}` : undefined;
  };
  return parseConfig(merged, originOf);
}
