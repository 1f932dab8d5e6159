// The first key: when a Hangar starts with no API key at all, it makes an admin key and writes it
// to <dataDir>/admin-key (0600, root only), where the local CLI finds it; the log says where, never
// the key. Also reads that file for the CLI.
import { readFile, writeFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ApiKeyRepository } from '../store/store.js';
import { generateApiKey } from './api-keys.js';

export const ADMIN_KEY_FILE = 'admin-key';

/** Makes the first admin key when there is none; returns its file and whether it was made now. */
export async function ensureAdminKey(
  keys: ApiKeyRepository,
  dataDir: string,
  now: () => string = () => new Date().toISOString(),
): Promise<{ file: string; created: boolean }> {
  const file = path.join(dataDir, ADMIN_KEY_FILE);
  if ((await keys.list()).length > 0) return { file, created: false };
  const key = generateApiKey();
  // A file left by a database that was since replaced holds a key that no longer exists.
  await unlink(file).catch(() => undefined);
  await writeFile(file, `${key.token}\n`, { mode: 0o600, flag: 'wx' });
  await keys.insert({
    id: key.id,
    tenantId: 'default',
    name: 'admin (first start)',
    secretHash: key.secretHash,
    scopes: ['admin'],
    createdAt: now(),
    revokedAt: null,
    lastUsedAt: null,
  });
  return { file, created: true };
}

/** The key in <dataDir>/admin-key, if the file is there and readable. */
export async function readAdminKey(dataDir: string): Promise<string | undefined> {
  const text = await readFile(path.join(dataDir, ADMIN_KEY_FILE), 'utf8').catch(() => undefined);
  const token = text?.trim();
  return token === undefined || token === '' ? undefined : token;
}
