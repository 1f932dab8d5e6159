// The data directory's lock: one holder at a time, in this process or another; a refusal names the
// holder; the kernel releases it when the holder is SIGKILLed (no stale lock, no cleanup).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HangarError } from '../../src/errors/errors.js';
import { acquireDataDirLock, lockHolderPid, OWNER_FILE } from '../../src/runtime/data-dir-lock.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function refusal(dataDir: string): HangarError {
  try {
    acquireDataDirLock(dataDir, 'test');
  } catch (error) {
    expect(error).toBeInstanceOf(HangarError);
    return error as HangarError;
  }
  throw new Error('the lock was taken twice');
}

describe('data directory lock', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-lock-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('refuses a second holder in the same process, naming it, until released', () => {
    const dataDir = mkdtempSync(path.join(directory, 'same-'));
    const lock = acquireDataDirLock(dataDir, 'hangar serve');
    lock.setUrl('http://127.0.0.1:9999');
    const error = refusal(dataDir);
    expect(error.code).toBe('DATA_DIR_IN_USE');
    expect(error.message).toContain(`pid ${process.pid}`);
    expect(error.message).toContain('`hangar serve`');
    expect(error.message).toContain('hangar run --server http://127.0.0.1:9999');
    expect(error.message).toMatch(/--data-dir/);
    // The refused attempt opened and closed the lock file: the holder still holds it.
    expect(refusal(dataDir).code).toBe('DATA_DIR_IN_USE');
    lock.release();
    expect(existsSync(path.join(dataDir, OWNER_FILE))).toBe(false);
    acquireDataDirLock(dataDir, 'again').release();
  });

  it('names another process holding it, and the kernel releases it when that process is killed', async () => {
    const dataDir = mkdtempSync(path.join(directory, 'other-'));
    const script = path.join(directory, 'hold.ts');
    writeFileSync(
      script,
      `import { acquireDataDirLock } from ${JSON.stringify(path.join(ROOT, 'src/runtime/data-dir-lock.ts'))};\n` +
        `acquireDataDirLock(process.argv[2]!, 'holder script');\nprocess.stdout.write('locked\\n');\nsetInterval(() => undefined, 60_000);\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('locked')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      expect(lockHolderPid(path.join(dataDir, 'hangar.lock'))).toBe(child.pid);
      const error = refusal(dataDir);
      expect(error.message).toContain(`pid ${child.pid}`);
      expect(error.message).toContain('`holder script`');
      expect(error.details).toMatchObject({ pid: child.pid });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // No release ran in the holder: the kernel dropped its lock with the process.
    const lock = acquireDataDirLock(dataDir, 'after the crash');
    expect(lockHolderPid(path.join(dataDir, 'hangar.lock'))).toBe(process.pid);
    lock.release();
  }, 60_000);
});
