// Helpers for working on trees a sandbox can write, by descriptor rather than by path: the flags
// that open a directory without following a link, the openat() equivalent Node offers
// (/proc/self/fd/<fd>/<name>), and the errno of a failed call.
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** Opens a directory, never through a symbolic link. */
export const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;

/** Path of `name` inside the directory an open handle refers to; a Buffer name stays bytes. */
export function pathAt(dir: FileHandle, name: Buffer): Buffer;
export function pathAt(dir: FileHandle, name: string): string;
export function pathAt(dir: FileHandle, name: Buffer | string): Buffer | string {
  const prefix = `/proc/self/fd/${dir.fd}/`;
  return typeof name === 'string' ? `${prefix}${name}` : Buffer.concat([Buffer.from(prefix), name]);
}

/** The errno code of a failed system call (`ENOENT`...), or undefined. */
export function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as NodeJS.ErrnoException).code : undefined;
}
