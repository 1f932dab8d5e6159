// Secret values at rest: sealed with AES-256-GCM under the installation's key before the store
// sees them, opened only when a sandbox is set up. The key is made once, at first start, in
// <dataDir>/secrets.key (0600, created exclusively), as the CA key and the admin key are. A sealed
// value is bound to its owner and name (the GCM additional data), and to where it may be sent when
// that is stored beside it (a tenant's secret), so a stored value copied to another owner or name,
// or given other hosts, does not open; it names the key that sealed it (a short hash), so a value
// sealed under another key is told apart from one that was altered.
//   sealed = format (1 byte) | key id (4) | IV (12) | GCM tag (16) | ciphertext
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HangarError } from '../errors/errors.js';
import type { SecretOwner } from '../store/store.js';

export const SECRETS_KEY_FILE = 'secrets.key';

const FORMAT = 1;
const KEY_BYTES = 32;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

export interface SecretSealer {
  /** The value sealed for this owner and name (and `bound`, text stored beside it that it must open with). */
  seal(owner: SecretOwner, name: string, value: string, bound?: string): Uint8Array;
  /** The value; throws a HangarError saying why it does not open (another key, or altered). */
  open(owner: SecretOwner, name: string, sealed: Uint8Array, bound?: string): string;
}

/** What a sealed value is bound to: its owner and name, and the bound text if any. */
function additionalData(owner: SecretOwner, name: string, bound: string | undefined): Buffer {
  return Buffer.from(`hangar-secret\0${owner.kind}\0${owner.id}\0${name}${bound !== undefined ? `\0${bound}` : ''}`, 'utf8');
}

/** A short public name of a key: the first bytes of a hash of it (not enough to learn anything of the key). */
function keyIdOf(key: Uint8Array): Buffer {
  return createHash('sha256').update('hangar secrets key id\0').update(key).digest().subarray(0, KEY_ID_BYTES);
}

export function createSecretSealer(key: Uint8Array): SecretSealer {
  if (key.length !== KEY_BYTES) throw new RangeError(`a secrets key has ${KEY_BYTES} bytes, not ${key.length}`);
  const keyId = keyIdOf(key);
  return {
    seal(owner, name, value, bound) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(owner, name, bound));
      const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
      return new Uint8Array(Buffer.concat([Buffer.of(FORMAT), keyId, iv, cipher.getAuthTag(), ciphertext]));
    },
    open(owner, name, sealed, bound) {
      const what = `secret ${name} of ${owner.kind} ${owner.id}`;
      const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      if (bytes.length < HEADER_BYTES || bytes[0] !== FORMAT) throw new HangarError('INTERNAL', `${what} is not a sealed value Hangar knows (damaged?)`);
      const sealedWith = bytes.subarray(1, 1 + KEY_ID_BYTES);
      if (!sealedWith.equals(keyId)) {
        throw new HangarError(
          'CONFIG_INVALID',
          `${what} was sealed with another key (key id ${sealedWith.toString('hex')}; this installation's ${SECRETS_KEY_FILE} is ${keyId.toString('hex')}): ` +
            `restore the ${SECRETS_KEY_FILE} it was sealed with, or declare the secret again`,
        );
      }
      const iv = bytes.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
      const tag = bytes.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEADER_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(owner, name, bound));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new HangarError('INTERNAL', `${what} does not open: its stored form was altered, damaged, or belongs to another owner, name or use`);
      }
    },
  };
}

/** The key of `dataDir` (secrets.key, base64), made there on first use; refuses a file others may read. */
export async function loadOrCreateSecretsKey(dataDir: string): Promise<Uint8Array> {
  const file = path.join(dataDir, SECRETS_KEY_FILE);
  const read = async (): Promise<Uint8Array | undefined> => {
    let handle;
    try {
      handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new HangarError('CONFIG_INVALID', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile() || (stat.mode & 0o077) !== 0) {
        throw new HangarError('CONFIG_INVALID', `${file} must be a regular file only its owner may read (chmod 600 ${file})`);
      }
      const key = Buffer.from((await handle.readFile('utf8')).trim(), 'base64');
      if (key.length !== KEY_BYTES) {
        throw new HangarError('CONFIG_INVALID', `${file} holds no ${KEY_BYTES}-byte key (base64): restore it from a backup; stored secrets open only with it`);
      }
      return new Uint8Array(key);
    } finally {
      await handle.close();
    }
  };
  const existing = await read();
  if (existing !== undefined) return existing;
  const key = randomBytes(KEY_BYTES);
  try {
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Made meanwhile by another start: that one is the key.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await read())!;
    throw error;
  }
  return new Uint8Array(key);
}
