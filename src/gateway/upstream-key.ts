// Where the gateway's real API key comes from: the configuration (env ANTHROPIC_API_KEY) or a file
// (`gateway.upstreamApiKeyFile`, e.g. a mounted secret), re-read when the file or its directory
// changes (a mounted secret is replaced by swapping a symlink) and on reload() (SIGHUP), so a
// rotated key takes effect without a restart. The key is never logged; a file that cannot be read
// keeps the last good key and is reported by path only.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

export interface UpstreamKeySource {
  /** The key to send now, if any. */
  current(): string | undefined;
  /** Re-reads the file (no-op for a fixed key); resolves once read. */
  reload(): Promise<void>;
  close(): void;
}

/** Most bytes of a key file. */
const MAX_KEY_FILE_BYTES = 4096;

export async function createUpstreamKeySource(settings: { key?: string; file?: string; logger: Logger }): Promise<UpstreamKeySource> {
  const { file, logger } = settings;
  if (file === undefined) {
    return { current: () => settings.key, reload: async () => undefined, close: () => undefined };
  }
  let key: string | undefined;
  const read = async (): Promise<void> => {
    try {
      const text = await readFile(file, 'utf8');
      if (Buffer.byteLength(text) > MAX_KEY_FILE_BYTES) throw new Error(`over ${MAX_KEY_FILE_BYTES} bytes`);
      const trimmed = text.trim();
      if (trimmed === '' || /\s/.test(trimmed)) throw new Error('the file must hold the key alone, on one line');
      if (trimmed !== key) {
        if (key !== undefined) logger.info({ file }, 'gateway: upstream API key reloaded from its file');
        key = trimmed;
      }
    } catch (error) {
      logger.warn({ file, reason: (error as Error).message }, 'gateway: cannot read the upstream API key file; keeping the last key read');
    }
  };
  await read();
  if (key === undefined) throw new Error(`cannot read the upstream API key from ${file}`);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    // The directory, not the file: a mounted secret is updated by replacing a symlink beside it.
    watcher = watch(path.dirname(file), () => {
      clearTimeout(timer);
      timer = setTimeout(() => void read(), 100);
    });
    watcher.on('error', () => undefined);
  } catch {
    logger.warn({ file }, 'gateway: cannot watch the upstream API key file; send SIGHUP after rotating it');
  }
  return {
    current: () => key,
    reload: read,
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
