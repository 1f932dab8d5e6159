// Root's reads and writes of one sandbox's workspace, by descriptor: every directory is opened with
// O_DIRECTORY|O_NOFOLLOW relative to its parent's descriptor and every file with O_NOFOLLOW, so a
// symlink a sandbox planted is never followed (see ../../by-descriptor.ts). The bounded scans and
// reads of whole workspaces are workspace-scan.ts.
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { HangarError } from '../../../errors/errors.js';
import { DIR_FLAGS, errnoOf, pathAt } from '../../by-descriptor.js';
import { failed, invalid } from './errors.js';

/** Splits a workspace-relative path into components, refusing anything that leaves the workspace. */
export function workspaceComponents(relativePath: string): string[] {
  if (typeof relativePath !== 'string' || relativePath.includes('\0')) throw invalid('invalid workspace path');
  if (path.isAbsolute(relativePath)) throw invalid(`workspace paths are relative: ${JSON.stringify(relativePath)}`);
  const parts = relativePath.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw invalid(`path escapes the workspace: ${JSON.stringify(relativePath)}`);
  if (parts.length === 0) throw invalid(`path names the workspace itself: ${JSON.stringify(relativePath)}`);
  return parts;
}

function fileError(error: unknown, relativePath: string): HangarError {
  if (error instanceof HangarError) return error;
  const code = errnoOf(error);
  if (code === 'ENOENT') return new HangarError('NOT_FOUND', `no such file in the workspace: ${relativePath}`, { cause: error });
  if (code === 'ELOOP' || code === 'ENOTDIR') return invalid(`workspace path goes through a symbolic link or a non-directory: ${relativePath}`);
  if (code === 'ENOSPC') return failed(`workspace is full (disk limit reached) writing ${relativePath}`, error, { errno: 'ENOSPC' });
  return failed(`workspace file operation failed on ${relativePath}: ${(error as Error).message}`, error);
}

/** One sandbox's workspace as root sees it: `dir` on the host, files owned by `uid`. */
export class WorkspaceFiles {
  constructor(private readonly workspace: { dir: string; uid: number; assertLive(): void }) {}

  async read(relativePath: string): Promise<Buffer> {
    const parts = workspaceComponents(relativePath);
    const name = parts.pop() as string;
    this.workspace.assertLive();
    let dir: FileHandle | undefined;
    let file: FileHandle | undefined;
    try {
      dir = await this.openDir(parts, false);
      file = await open(pathAt(dir, name), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
      if (!(await file.stat()).isFile()) throw invalid(`not a regular file: ${relativePath}`);
      return await file.readFile();
    } catch (error) {
      throw fileError(error, relativePath);
    } finally {
      await file?.close();
      await dir?.close();
    }
  }

  /** Writes a file (its missing parent directories made), owned by the sandbox uid. */
  async write(relativePath: string, content: Buffer | string): Promise<void> {
    const parts = workspaceComponents(relativePath);
    const name = parts.pop() as string;
    this.workspace.assertLive();
    const { uid } = this.workspace;
    let dir: FileHandle | undefined;
    let file: FileHandle | undefined;
    try {
      dir = await this.openDir(parts, true);
      file = await open(pathAt(dir, name), fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK, 0o644);
      if (!(await file.stat()).isFile()) throw invalid(`not a regular file: ${relativePath}`);
      await file.truncate(0);
      await file.writeFile(content);
      await file.chown(uid, uid);
    } catch (error) {
      throw fileError(error, relativePath);
    } finally {
      await file?.close();
      await dir?.close();
    }
  }

  /** Every regular file under the workspace, sorted (directories swapped or removed meanwhile are skipped). */
  async list(): Promise<string[]> {
    this.workspace.assertLive();
    const files: string[] = [];
    const walk = async (dir: FileHandle, prefix: string): Promise<void> => {
      const entries = await readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true });
      for (const entry of entries) {
        const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isFile()) files.push(relative);
        else if (entry.isDirectory()) {
          let child: FileHandle | undefined;
          try {
            child = await open(pathAt(dir, entry.name), DIR_FLAGS);
            await walk(child, relative);
          } catch (error) {
            // An entry replaced by a symlink or removed while walking is skipped.
            if (!['ELOOP', 'ENOTDIR', 'ENOENT'].includes(errnoOf(error) ?? '')) throw error;
          } finally {
            await child?.close();
          }
        }
      }
    };
    const root = await open(this.workspace.dir, DIR_FLAGS);
    try {
      await walk(root, '');
    } finally {
      await root.close();
    }
    return files.sort();
  }

  /** Opens a directory under the workspace component by component, never following symlinks. */
  async openDir(parts: string[], create: boolean): Promise<FileHandle> {
    const { uid } = this.workspace;
    let current = await open(this.workspace.dir, DIR_FLAGS);
    try {
      for (const part of parts) {
        let next: FileHandle;
        try {
          next = await open(pathAt(current, part), DIR_FLAGS);
        } catch (error) {
          if (!create || errnoOf(error) !== 'ENOENT') throw error;
          await mkdir(pathAt(current, part), { mode: 0o755 }).catch((mkdirError: unknown) => {
            if (errnoOf(mkdirError) !== 'EEXIST') throw mkdirError;
          });
          next = await open(pathAt(current, part), DIR_FLAGS);
          await next.chown(uid, uid);
        }
        await current.close();
        current = next;
      }
      return current;
    } catch (error) {
      await current.close().catch(() => undefined);
      throw error;
    }
  }
}
