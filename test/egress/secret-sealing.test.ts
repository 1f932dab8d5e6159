// Declared secret values at rest: sealed with AES-256-GCM under the installation's key, bound to
// their owner and name; the key file made once, 0600, and refused when others may read it.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSecretSealer, loadOrCreateSecretsKey, SECRETS_KEY_FILE } from '../../src/egress/secret-sealing.js';
import type { SecretOwner } from '../../src/store/store.js';

const directory = mkdtempSync(path.join(tmpdir(), 'hangar-sealing-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const owner: SecretOwner = { kind: 'session', id: 'sess_1' };
const VALUE = 'ghp_0123456789abcdefSECRET';

describe('secret sealing', () => {
  it('seals a value so that it opens again, and the sealed bytes do not hold it', async () => {
    const sealer = createSecretSealer(await loadOrCreateSecretsKey(directory));
    const sealed = sealer.seal(owner, 'GITHUB_TOKEN', VALUE);
    expect(Buffer.from(sealed).toString('latin1')).not.toContain(VALUE);
    expect(Buffer.from(sealed).toString('base64')).not.toContain(Buffer.from(VALUE).toString('base64').slice(0, 12));
    expect(sealer.open(owner, 'GITHUB_TOKEN', sealed)).toBe(VALUE);
    // A fresh IV each time: the same value seals differently.
    expect(Buffer.from(sealer.seal(owner, 'GITHUB_TOKEN', VALUE)).equals(Buffer.from(sealed))).toBe(false);
  });

  it('refuses to open under another key, naming both keys', () => {
    const sealed = createSecretSealer(Buffer.alloc(32, 1)).seal(owner, 'GITHUB_TOKEN', VALUE);
    expect(() => createSecretSealer(Buffer.alloc(32, 2)).open(owner, 'GITHUB_TOKEN', sealed)).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/sealed with another key \(key id [0-9a-f]{8}; this installation's secrets\.key is [0-9a-f]{8}\)/),
      }),
    );
  });

  it('refuses a tampered value, a value moved to another owner or name, and bytes that are no sealed value', () => {
    const sealer = createSecretSealer(Buffer.alloc(32, 7));
    const sealed = sealer.seal(owner, 'GITHUB_TOKEN', VALUE);
    const tampered = new Uint8Array(sealed);
    tampered[tampered.length - 1]! ^= 0x01;
    expect(() => sealer.open(owner, 'GITHUB_TOKEN', tampered)).toThrow(/secret GITHUB_TOKEN of session sess_1 does not open: its stored form was altered/);
    expect(() => sealer.open({ kind: 'session', id: 'sess_2' }, 'GITHUB_TOKEN', sealed)).toThrow(/does not open/);
    expect(() => sealer.open({ kind: 'task', id: 'sess_1' }, 'GITHUB_TOKEN', sealed)).toThrow(/does not open/);
    expect(() => sealer.open(owner, 'OTHER', sealed)).toThrow(/does not open/);
    expect(() => sealer.open(owner, 'GITHUB_TOKEN', new Uint8Array([1, 2, 3]))).toThrow(/not a sealed value/);
  });

  it('makes the key file once, readable by its owner only, and loads the same key again', async () => {
    const dir = mkdtempSync(path.join(directory, 'key-'));
    const first = await loadOrCreateSecretsKey(dir);
    const file = path.join(dir, SECRETS_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    expect(Buffer.from(await loadOrCreateSecretsKey(dir)).equals(Buffer.from(first))).toBe(true);
  });

  it('refuses a key file others may read, and one that holds no key', async () => {
    const dir = mkdtempSync(path.join(directory, 'bad-'));
    await loadOrCreateSecretsKey(dir);
    const file = path.join(dir, SECRETS_KEY_FILE);
    chmodSync(file, 0o644);
    await expect(loadOrCreateSecretsKey(dir)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('chmod 600') });
    chmodSync(file, 0o600);
    writeFileSync(file, 'not a key\n');
    await expect(loadOrCreateSecretsKey(dir)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('holds no 32-byte key') });
  });
});
