// In-memory adapter of the BlobStore port, for unit tests. Blobs are copied on the way in and out.
import { Readable } from 'node:stream';
import { HangarError } from '../../errors/errors.js';
import { assertValidBlobKey, assertValidBlobPrefix, type BlobStore } from './blob-store.js';

/** Reads the whole source into one buffer; rejects when the stream fails. */
async function collect(source: Readable | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(source)) return Buffer.from(source);
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export function createInMemoryBlobStore(): BlobStore {
  const blobs = new Map<string, Buffer>();
  return {
    async put(key, source) {
      assertValidBlobKey(key);
      // The key changes only once the whole source has been read.
      const bytes = await collect(source);
      blobs.set(key, bytes);
      return { sizeBytes: bytes.length };
    },
    async get(key) {
      assertValidBlobKey(key);
      const bytes = blobs.get(key);
      if (bytes === undefined) throw new HangarError('NOT_FOUND', `blob ${key} does not exist`);
      return Readable.from([Buffer.from(bytes)]);
    },
    async exists(key) {
      assertValidBlobKey(key);
      return blobs.has(key);
    },
    async delete(key) {
      assertValidBlobKey(key);
      blobs.delete(key);
    },
    async list(prefix) {
      assertValidBlobPrefix(prefix);
      return [...blobs.keys()].filter((key) => key.startsWith(prefix)).sort();
    },
  };
}
