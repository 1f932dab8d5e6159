import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createInMemoryBlobStore } from '../../src/store/blobs/in-memory.js';
import { createLocalBlobStore } from '../../src/store/blobs/local.js';
import { failingAfter, readAll, runBlobStoreContract } from '../contracts/blob-store.contract.js';

const root = mkdtempSync(path.join(tmpdir(), 'hangar-blobs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDirectory = (): string => {
  counter += 1;
  return path.join(root, `store-${counter}`);
};

runBlobStoreContract('in-memory', async () => createInMemoryBlobStore());

let currentDirectory = '';
runBlobStoreContract(
  'local',
  async () => {
    currentDirectory = freshDirectory();
    return createLocalBlobStore({ directory: currentDirectory });
  },
  { reopen: async () => createLocalBlobStore({ directory: currentDirectory }) },
);

describe('local blob store', () => {
  it('does no I/O until used', () => {
    const directory = freshDirectory();
    createLocalBlobStore({ directory });
    expect(existsSync(directory)).toBe(false);
  });

  it('keeps each blob as the file at its key path and leaves no temp file behind', async () => {
    const directory = freshDirectory();
    const blobs = createLocalBlobStore({ directory });
    await blobs.put('sessions/s1/c1.tar.zst', Buffer.from('snapshot'));
    expect(readFileSync(path.join(directory, 'sessions', 's1', 'c1.tar.zst'), 'utf8')).toBe('snapshot');
    expect(statSync(path.join(directory, 'sessions', 's1', 'c1.tar.zst')).mode & 0o777).toBe(0o600);
    await expect(blobs.put('failing', failingAfter(Buffer.alloc(1000)))).rejects.toThrow();
    expect(readdirSync(path.join(directory, '.tmp'))).toEqual([]);
  });

  it('prunes directories a delete left empty', async () => {
    const directory = freshDirectory();
    const blobs = createLocalBlobStore({ directory });
    await blobs.put('sessions/s1/c1', Buffer.from('x'));
    await blobs.put('sessions/s2/c1', Buffer.from('y'));
    await blobs.delete('sessions/s1/c1');
    expect(existsSync(path.join(directory, 'sessions', 's1'))).toBe(false);
    expect(existsSync(path.join(directory, 'sessions', 's2', 'c1'))).toBe(true);
    await blobs.delete('sessions/s2/c1');
    expect(readdirSync(directory).sort()).toEqual(['.tmp']);
  });

  it('reports a key that is both a blob and a prefix directory as CONFLICT', async () => {
    const blobs = createLocalBlobStore({ directory: freshDirectory() });
    await blobs.put('a/b', Buffer.from('x'));
    await expect(blobs.put('a', Buffer.from('y'))).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(blobs.put('a/b/c', Buffer.from('z'))).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await blobs.list('')).toEqual(['a/b']);
  });

  it('keeps the previous blob whole when the process writing a new one is killed, and sweeps the stale temp file later', async () => {
    const directory = freshDirectory();
    const before = createLocalBlobStore({ directory });
    await before.put('sessions/s1/c1', Buffer.from('the blob before the crash'));

    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/blob-put-crash-child.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, directory, 'sessions/s1/c1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (data: Buffer) => {
        if (data.toString().includes('writing')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`crash child exited early (${code})`)));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const temps = readdirSync(path.join(directory, '.tmp'));
    expect(temps).toHaveLength(1);
    const after = createLocalBlobStore({ directory });
    expect((await readAll(await after.get('sessions/s1/c1'))).toString()).toBe('the blob before the crash');
    expect(await after.list('')).toEqual(['sessions/s1/c1']);

    // A temp file an hour old is a leftover: the next put of a fresh store removes it.
    const leftover = path.join(directory, '.tmp', temps[0] ?? '');
    const anHourAgo = new Date(Date.now() - 61 * 60 * 1000);
    utimesSync(leftover, anHourAgo, anHourAgo);
    writeFileSync(path.join(directory, '.tmp', 'recent.part'), 'in flight elsewhere');
    await after.put('sessions/s1/c2', Buffer.from('next'));
    expect(readdirSync(path.join(directory, '.tmp'))).toEqual(['recent.part']);
  });
});
