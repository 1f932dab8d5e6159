// Local-directory adapter of the BlobStore port (the default): key 'a/b/c' is the file
// <directory>/a/b/c. A put streams into a temp file under <directory>/.tmp, fsyncs it, then renames it
// over the key's file and fsyncs the directory, so a crash leaves the old blob or the whole new one.
import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { HangarError } from '../../errors/errors.js';
import { assertValidBlobKey, assertValidBlobPrefix, type BlobStore } from './blob-store.js';

export interface LocalBlobStoreSettings {
  /** Root directory of the blobs; created on the first put. */
  directory: string;
}

/** Temp files live here; keys never start with '.', so no key can name it. */
const TEMP_DIR = '.tmp';
/** Temp files older than this are leftovers of a crashed put and are removed. */
const STALE_TEMP_MS = 60 * 60 * 1000;

const errorCode = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Flushes a directory's entries (a rename into it) to disk. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function createLocalBlobStore(settings: LocalBlobStoreSettings): BlobStore {
  const root = path.resolve(settings.directory);
  const tempDir = path.join(root, TEMP_DIR);
  const pathOf = (key: string): string => path.join(root, ...key.split('/'));
  const notFound = (key: string): HangarError => new HangarError('NOT_FOUND', `blob ${key} does not exist`);

  let sweep: Promise<void> | undefined;
  /** Removes temp files that crashed puts left behind (once per store). */
  const sweepStaleTemps = (): Promise<void> => {
    sweep ??= (async () => {
      const cutoff = Date.now() - STALE_TEMP_MS;
      for (const name of await readdir(tempDir).catch(() => [] as string[])) {
        const file = path.join(tempDir, name);
        const stats = await stat(file).catch(() => undefined);
        if (stats !== undefined && stats.mtimeMs < cutoff) await rm(file, { force: true });
      }
    })();
    return sweep;
  };

  /** Moves the finished temp file to the key's path, creating parent directories as needed. */
  const publish = async (key: string, tempPath: string): Promise<void> => {
    const target = pathOf(key);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
        await rename(tempPath, target);
        await syncDirectory(path.dirname(target));
        return;
      } catch (error) {
        const code = errorCode(error);
        // A concurrent delete may prune the parent directory between mkdir and rename: try again.
        if (code === 'ENOENT' && attempt < 3) continue;
        if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') {
          throw new HangarError('CONFLICT', `blob key ${key} collides with another key's path (a key cannot be both a blob and a prefix directory)`, {
            cause: error,
          });
        }
        throw error;
      }
    }
  };

  return {
    async put(key, source) {
      assertValidBlobKey(key);
      await mkdir(tempDir, { recursive: true, mode: 0o700 });
      await sweepStaleTemps();
      const tempPath = path.join(tempDir, `${randomUUID()}.part`);
      const handle = await open(tempPath, 'wx', 0o600);
      let sizeBytes = 0;
      let closed = false;
      try {
        if (Buffer.isBuffer(source)) {
          await writeFully(handle, source);
          sizeBytes = source.length;
        } else {
          for await (const chunk of source) {
            const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
            await writeFully(handle, bytes);
            sizeBytes += bytes.length;
          }
        }
        await handle.sync();
        await handle.close();
        closed = true;
        await publish(key, tempPath);
        return { sizeBytes };
      } catch (error) {
        if (!closed) await handle.close().catch(() => undefined);
        await rm(tempPath, { force: true });
        throw error;
      }
    },

    async get(key) {
      assertValidBlobKey(key);
      let handle: FileHandle;
      try {
        handle = await open(pathOf(key), 'r');
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(key);
        throw error;
      }
      const stats = await handle.stat().catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      if (!stats.isFile()) {
        await handle.close();
        throw notFound(key);
      }
      // The stream closes the handle when it ends or is destroyed; a concurrent put replaces the
      // file by rename, so this reader keeps the bytes it opened.
      return handle.createReadStream() as Readable;
    },

    async exists(key) {
      assertValidBlobKey(key);
      const stats = await stat(pathOf(key)).catch((error: unknown) => {
        const code = errorCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw error;
      });
      return stats?.isFile() ?? false;
    },

    async delete(key) {
      assertValidBlobKey(key);
      const target = pathOf(key);
      try {
        await unlink(target);
      } catch (error) {
        const code = errorCode(error);
        // Absent, or the key names a directory of other keys: there is no blob to delete.
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EPERM') return;
        throw error;
      }
      // Prunes parent directories left empty, up to the root.
      for (let directory = path.dirname(target); directory !== root && directory.startsWith(root + path.sep); directory = path.dirname(directory)) {
        try {
          await rmdir(directory);
        } catch {
          break;
        }
      }
    },

    async list(prefix) {
      assertValidBlobPrefix(prefix);
      const keys: string[] = [];
      const walk = async (directory: string, keyPrefix: string): Promise<void> => {
        let entries: Dirent[];
        try {
          entries = await readdir(directory, { withFileTypes: true });
        } catch (error) {
          const code = errorCode(error);
          if (code === 'ENOENT' || code === 'ENOTDIR') return;
          throw error;
        }
        for (const entry of entries) {
          if (entry.name.startsWith('.')) continue;
          const key = keyPrefix + entry.name;
          if (entry.isFile()) {
            if (key.startsWith(prefix)) keys.push(key);
          } else if (entry.isDirectory() && ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/'))) {
            await walk(path.join(directory, entry.name), key + '/');
          }
        }
      };
      // Start at the deepest directory the prefix names whole.
      const slash = prefix.lastIndexOf('/');
      const base = prefix.slice(0, slash + 1);
      await walk(base === '' ? root : pathOf(base.slice(0, -1)), base);
      return keys.sort();
    },
  };
}
