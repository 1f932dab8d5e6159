// Contract suite of the BlobStore port: every adapter must pass it.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/store/blobs/blob-store.js';

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A stream of the bytes in chunks of `chunkSize`, produced asynchronously. */
export function chunked(bytes: Buffer, chunkSize: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      setImmediate(() => {
        if (offset >= bytes.length) {
          this.push(null);
          return;
        }
        this.push(bytes.subarray(offset, offset + chunkSize));
        offset += chunkSize;
      });
    },
  });
}

/** A stream that yields some bytes, then fails. */
export function failingAfter(bytes: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      setImmediate(() => {
        if (!sent) {
          sent = true;
          this.push(bytes);
          return;
        }
        this.destroy(new Error('source failed mid-stream'));
      });
    },
  });
}

export interface BlobStoreContractOptions {
  /** Opens the same underlying storage again (for durability checks); omit for non-durable adapters. */
  reopen?: (previous: BlobStore) => Promise<BlobStore>;
}

export function runBlobStoreContract(name: string, openBlobStore: () => Promise<BlobStore>, options: BlobStoreContractOptions = {}): void {
  describe(`BlobStore contract: ${name}`, () => {
    let blobs: BlobStore;
    beforeEach(async () => {
      blobs = await openBlobStore();
    });

    it('stores a buffer and reads the same bytes back', async () => {
      const bytes = Buffer.from('hello, blob ✓');
      expect(await blobs.put('sessions/s1/c1.tar.zst', bytes)).toEqual({ sizeBytes: bytes.length });
      expect(await blobs.exists('sessions/s1/c1.tar.zst')).toBe(true);
      expect(await readAll(await blobs.get('sessions/s1/c1.tar.zst'))).toEqual(bytes);
    });

    it('stores a multi-megabyte stream and reads the same bytes back', async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      expect(await blobs.put('big.bin', chunked(bytes, 64 * 1024))).toEqual({ sizeBytes: bytes.length });
      const read = await readAll(await blobs.get('big.bin'));
      expect(read.length).toBe(bytes.length);
      expect(sha256(read)).toBe(sha256(bytes));
    });

    it('stores streams of strings and empty blobs', async () => {
      expect(await blobs.put('text', Readable.from(['abc', 'déf']))).toEqual({ sizeBytes: Buffer.byteLength('abcdéf') });
      expect((await readAll(await blobs.get('text'))).toString()).toBe('abcdéf');
      expect(await blobs.put('empty', Buffer.alloc(0))).toEqual({ sizeBytes: 0 });
      expect(await blobs.exists('empty')).toBe(true);
      expect(await readAll(await blobs.get('empty'))).toEqual(Buffer.alloc(0));
      expect(await blobs.put('empty-stream', Readable.from([]))).toEqual({ sizeBytes: 0 });
      expect(await readAll(await blobs.get('empty-stream'))).toEqual(Buffer.alloc(0));
    });

    it('replaces a blob stored under the same key', async () => {
      await blobs.put('k', Buffer.from('first version, longer'));
      await blobs.put('k', Buffer.from('second'));
      expect((await readAll(await blobs.get('k'))).toString()).toBe('second');
      expect(await blobs.list('')).toEqual(['k']);
    });

    it('fails with NOT_FOUND for an absent key, and exists() says false', async () => {
      await expect(blobs.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(blobs.get('a/b/c')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await blobs.exists('nope')).toBe(false);
      // A prefix of stored keys is not itself a blob.
      await blobs.put('dir/file', Buffer.from('x'));
      expect(await blobs.exists('dir')).toBe(false);
      await expect(blobs.get('dir')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('deletes idempotently', async () => {
      await blobs.put('sessions/s1/c1', Buffer.from('x'));
      await blobs.put('sessions/s1/c2', Buffer.from('y'));
      await blobs.delete('sessions/s1/c1');
      await blobs.delete('sessions/s1/c1');
      await blobs.delete('never/there');
      await blobs.delete('sessions');
      expect(await blobs.exists('sessions/s1/c1')).toBe(false);
      await expect(blobs.get('sessions/s1/c1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await blobs.list('')).toEqual(['sessions/s1/c2']);
      await blobs.delete('sessions/s1/c2');
      expect(await blobs.list('')).toEqual([]);
      // The key can be written again after its directory emptied.
      await blobs.put('sessions/s1/c1', Buffer.from('again'));
      expect((await readAll(await blobs.get('sessions/s1/c1'))).toString()).toBe('again');
    });

    it('lists keys by prefix, sorted', async () => {
      for (const key of ['sessions/s10/a', 'sessions/s1/b', 'sessions/s1/a', 'sessions/s2/a', 'other/x', 'top']) {
        await blobs.put(key, Buffer.from(key));
      }
      expect(await blobs.list('')).toEqual(['other/x', 'sessions/s1/a', 'sessions/s1/b', 'sessions/s10/a', 'sessions/s2/a', 'top']);
      expect(await blobs.list('sessions/s1/')).toEqual(['sessions/s1/a', 'sessions/s1/b']);
      expect(await blobs.list('sessions/s1')).toEqual(['sessions/s1/a', 'sessions/s1/b', 'sessions/s10/a']);
      expect(await blobs.list('sessions/')).toEqual(['sessions/s1/a', 'sessions/s1/b', 'sessions/s10/a', 'sessions/s2/a']);
      expect(await blobs.list('t')).toEqual(['top']);
      expect(await blobs.list('sessions/s1/a')).toEqual(['sessions/s1/a']);
      expect(await blobs.list('missing/')).toEqual([]);
      expect(await blobs.list('top/')).toEqual([]);
    });

    it('rejects keys that could escape or are malformed with BAD_REQUEST', async () => {
      for (const key of ['', '/abs', '../up', 'a/../b', 'a//b', 'a/', '.hidden', 'a/.tmp/x', 'a\\b', 'nul\0byte', 'sp ace', 'x'.repeat(1025)]) {
        await expect(blobs.put(key, Buffer.from('x')), key).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(blobs.get(key), key).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(blobs.exists(key), key).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(blobs.delete(key), key).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      }
      for (const prefix of ['/abs', '../', 'a/../', 'a//']) {
        await expect(blobs.list(prefix), prefix).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      }
    });

    it('leaves the key as it was when the source fails mid-stream', async () => {
      await expect(blobs.put('fresh', failingAfter(randomBytes(256 * 1024)))).rejects.toThrow('source failed mid-stream');
      expect(await blobs.exists('fresh')).toBe(false);
      expect(await blobs.list('')).toEqual([]);

      await blobs.put('kept', Buffer.from('old content'));
      await expect(blobs.put('kept', failingAfter(randomBytes(256 * 1024)))).rejects.toThrow('source failed mid-stream');
      expect((await readAll(await blobs.get('kept'))).toString()).toBe('old content');
      expect(await blobs.list('')).toEqual(['kept']);
    });

    it('lets a reader that opened a blob finish reading it while the key is replaced', async () => {
      const first = randomBytes(512 * 1024);
      await blobs.put('k', first);
      const reader = await blobs.get('k');
      await blobs.put('k', Buffer.from('replacement'));
      expect(sha256(await readAll(reader))).toBe(sha256(first));
      expect((await readAll(await blobs.get('k'))).toString()).toBe('replacement');
    });

    it('ends concurrent puts to one key with one whole blob', async () => {
      const versions = Array.from({ length: 5 }, () => randomBytes(200 * 1024));
      await Promise.all(versions.map((bytes) => blobs.put('contended', chunked(bytes, 16 * 1024))));
      const stored = sha256(await readAll(await blobs.get('contended')));
      expect(versions.map(sha256)).toContain(stored);
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps blobs when the store is opened again', async () => {
        const bytes = randomBytes(10_000);
        await blobs.put('sessions/s1/c1.tar.zst', bytes);
        blobs = await reopen(blobs);
        expect(await readAll(await blobs.get('sessions/s1/c1.tar.zst'))).toEqual(bytes);
        expect(await blobs.list('sessions/')).toEqual(['sessions/s1/c1.tar.zst']);
      });
    }
  });
}
