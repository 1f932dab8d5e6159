// The BlobStore port: named byte blobs (compressed workspace snapshots of checkpoints). Adapters:
// local directory (default), in-memory (unit tests); object stores slot in as further adapters.
import type { Readable } from 'node:stream';
import { HangarError } from '../../errors/errors.js';

export interface BlobStore {
  /**
   * Stores the bytes under the key, replacing any blob already there. Atomic: readers see the old
   * blob or the whole new one, and a failed or interrupted put leaves the key as it was.
   */
  put(key: string, source: Readable | Buffer): Promise<{ sizeBytes: number }>;
  /** The blob's bytes; fails with NOT_FOUND when no blob is stored under the key. */
  get(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Removes the blob; a no-op when absent. */
  delete(key: string): Promise<void>;
  /** Keys that start with the prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

/** One key segment: letters, digits and `._-=+@,`, not starting with a dot. */
const SEGMENT = /^[A-Za-z0-9_=+@,-][A-Za-z0-9._=+@,-]*$/;
const MAX_KEY_LENGTH = 1024;

/**
 * Checks a blob key: '/'-separated segments of safe characters, none empty or starting with '.'
 * (so no '..', no absolute paths, no hidden names). Fails with BAD_REQUEST otherwise.
 */
export function assertValidBlobKey(key: string): void {
  const valid = key.length > 0 && key.length <= MAX_KEY_LENGTH && key.split('/').every((segment) => SEGMENT.test(segment));
  if (!valid) throw new HangarError('BAD_REQUEST', `invalid blob key ${JSON.stringify(key)}`);
}

/** Checks a list prefix: '' or a key, optionally ending in '/', whose last segment may be partial. */
export function assertValidBlobPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  assertValidBlobKey(trimmed);
}
