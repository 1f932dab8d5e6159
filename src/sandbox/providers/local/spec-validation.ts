// Checks of what callers ask a local sandbox for: the spec's shape and each launch request (pure),
// and the host side of a spec's bridges and read-only paths (checkSpecHostPaths, which stats them).
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SandboxSpawnRequest, SandboxSpec } from '../../sandbox-provider.js';
import { GENERATED_ETC_FILES } from './isolation/etc-files.js';
import { failed, invalid } from './errors.js';
import { BRIDGE_DIR, DEFAULT_SEARCH_PATH, GIVEN_FILES_DIR, HOME_PATH, isUnder, MAX_GIVEN_FILES_BYTES, WORKSPACE_PATH } from './layout.js';

/** Sandbox ids (also the names of their host directories and cgroups). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const BRIDGE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Paths inside that the sandbox's own mounts own: a read-only path may be neither in nor above one. */
const RESERVED_INSIDE = ['/proc', '/dev', WORKSPACE_PATH, HOME_PATH, '/tmp', BRIDGE_DIR, ...GENERATED_ETC_FILES.map((name) => `/etc/${name}`)];

/** Checks the sandbox spec's shape (no I/O). */
export function validateSpec(spec: SandboxSpec): void {
  const { resources } = spec;
  if (typeof resources !== 'object' || resources === null) throw invalid('sandbox resources are required');
  for (const key of ['memoryMb', 'cpus', 'diskMb', 'pids'] as const) {
    const value = resources[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(`sandbox resources.${key} must be a positive number`);
  }
  if (!Number.isInteger(resources.pids)) throw invalid('sandbox resources.pids must be an integer');
  if (spec.id !== undefined && !ID_PATTERN.test(spec.id))
    throw invalid(`invalid sandbox id ${JSON.stringify(spec.id)}: use letters, digits, '.', '_' or '-' (at most 128)`);
  const names = new Set<string>();
  const ports = new Set<number>();
  for (const bridge of spec.bridges ?? []) {
    if (!BRIDGE_NAME_PATTERN.test(bridge.name)) throw invalid(`invalid bridge name ${JSON.stringify(bridge.name)}`);
    if (!Number.isInteger(bridge.port) || bridge.port < 1 || bridge.port > 65535) throw invalid(`invalid bridge port ${bridge.port}`);
    if (names.has(bridge.name) || ports.has(bridge.port)) throw invalid(`duplicate bridge ${bridge.name}:${bridge.port}`);
    if (!path.isAbsolute(bridge.hostSocketPath) || bridge.hostSocketPath.includes('\0'))
      throw invalid(`bridge ${bridge.name}: hostSocketPath must be absolute`);
    names.add(bridge.name);
    ports.add(bridge.port);
  }
  for (const readOnlyPath of spec.readOnlyPaths ?? []) {
    if (!path.isAbsolute(readOnlyPath) || readOnlyPath.includes('\0') || path.normalize(readOnlyPath) !== readOnlyPath || readOnlyPath === '/') {
      throw invalid(`readOnlyPaths entries must be normalized absolute paths other than /: ${JSON.stringify(readOnlyPath)}`);
    }
    // A path strictly inside /tmp is bound inside the sandbox's own /tmp (after it), so a checkout
    // under the host's /tmp can still lend the sandbox its Claude Code binary.
    const nestedInTmp = readOnlyPath !== '/tmp' && isUnder(readOnlyPath, '/tmp');
    if (!nestedInTmp && RESERVED_INSIDE.some((reserved) => isUnder(readOnlyPath, reserved) || isUnder(reserved, readOnlyPath))) {
      throw invalid(`readOnlyPaths entry ${readOnlyPath} overlaps a path the sandbox manages`);
    }
  }
  validateGivenFiles(spec.readOnlyFiles ?? []);
}

/** Checks a spec's readOnlyFiles: distinct normalized paths under GIVEN_FILES_DIR, bounded in size. */
function validateGivenFiles(files: NonNullable<SandboxSpec['readOnlyFiles']>): void {
  const seen = new Set<string>();
  let bytes = 0;
  for (const file of files) {
    const inside = file.path;
    if (
      typeof inside !== 'string' ||
      path.normalize(inside) !== inside ||
      !isUnder(inside, GIVEN_FILES_DIR) ||
      inside === GIVEN_FILES_DIR ||
      inside.includes('\0')
    ) {
      throw invalid(`readOnlyFiles paths must be normalized paths under ${GIVEN_FILES_DIR}/: ${JSON.stringify(inside)}`);
    }
    if (seen.has(inside)) throw invalid(`readOnlyFiles names ${inside} twice`);
    seen.add(inside);
    if (typeof file.content !== 'string') throw invalid(`readOnlyFiles ${inside}: content must be a string`);
    bytes += Buffer.byteLength(file.content);
  }
  if (bytes > MAX_GIVEN_FILES_BYTES) throw invalid(`readOnlyFiles hold ${bytes} bytes, more than ${MAX_GIVEN_FILES_BYTES}`);
}

/** Checks the env of a process: names without '=' or NUL, values without NUL (they travel NUL-separated). */
export function validateEnv(env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0')) throw invalid(`invalid environment variable name ${JSON.stringify(name)}`);
    if (typeof value !== 'string' || value.includes('\0')) throw invalid(`environment variable ${name} must be a string without NUL`);
  }
}

/** Checks a launch request; returns its complete environment (defaults first) and working directory. */
export function checkLaunchRequest(request: SandboxSpawnRequest): { env: Record<string, string>; cwd: string } {
  if (typeof request.command !== 'string' || request.command === '' || request.command.includes('\0')) throw invalid('command must be a non-empty string');
  if (!Array.isArray(request.args) || request.args.some((arg) => typeof arg !== 'string' || arg.includes('\0')))
    throw invalid('args must be strings without NUL');
  const env: Record<string, string> = { PATH: DEFAULT_SEARCH_PATH, HOME: HOME_PATH, USER: 'agent', ...request.env };
  validateEnv(env);
  const cwd = request.cwd ?? WORKSPACE_PATH;
  if (!path.isAbsolute(cwd) || cwd.includes('\0')) throw invalid(`cwd must be an absolute path inside the sandbox: ${JSON.stringify(cwd)}`);
  return { env, cwd };
}

/** Checks the host side of bridges and read-only paths before anything is created. */
export async function checkSpecHostPaths(spec: SandboxSpec): Promise<void> {
  for (const readOnlyPath of spec.readOnlyPaths ?? []) {
    await stat(readOnlyPath).catch(() => {
      throw invalid(`readOnlyPaths entry does not exist on the host: ${readOnlyPath}`);
    });
  }
  for (const bridge of spec.bridges ?? []) {
    let info: Stats;
    try {
      info = await stat(bridge.hostSocketPath);
    } catch {
      throw failed(`bridge ${bridge.name}: no socket at ${bridge.hostSocketPath}`);
    }
    if (!info.isSocket()) throw failed(`bridge ${bridge.name}: ${bridge.hostSocketPath} is not a unix socket`);
    if ((info.mode & 0o002) === 0) {
      throw failed(`bridge ${bridge.name}: sandbox uids cannot connect to ${bridge.hostSocketPath}; make it connectable by others (chmod 0666)`);
    }
    for (let dir = path.dirname(bridge.hostSocketPath); ; dir = path.dirname(dir)) {
      if (((await stat(dir)).mode & 0o001) === 0)
        throw failed(`bridge ${bridge.name}: ${dir} must be searchable by others (chmod o+x) for sandboxes to reach ${bridge.hostSocketPath}`);
      if (dir === '/') break;
    }
  }
}
