// Host uids for sandboxes, from a range. A reservation is a file <lockDir>/<uid> holding
// "<pid> <sandbox id>", shared by every Hangar process on the host; one whose process is gone is
// reclaimed (and the orphan sweep removes what that process left).
import { randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HangarError } from '../../../../errors/errors.js';
import { errnoOf } from '../../../by-descriptor.js';
import { failed } from '../errors.js';

/** HangarError details reason when every uid of the range is taken. */
const UIDS_EXHAUSTED = 'uids-exhausted';

export function isUidsExhausted(error: unknown): boolean {
  return error instanceof HangarError && (error.details as { reason?: unknown } | undefined)?.reason === UIDS_EXHAUSTED;
}

/** True while a process of this pid exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** Hands out host uids from a range; reservations are files shared by all Hangar processes on the host. */
export class UidAllocator {
  private readonly held = new Set<number>();
  private cursor = 0;

  constructor(
    private readonly start: number,
    private readonly size: number,
    private readonly lockDir: string,
  ) {}

  async allocate(owner: string): Promise<number> {
    for (let offset = 0; offset < this.size; offset += 1) {
      const uid = this.start + ((this.cursor + offset) % this.size);
      if (this.held.has(uid)) continue;
      if (await this.tryReserve(uid, owner)) {
        this.held.add(uid);
        this.cursor = (uid - this.start + 1) % this.size;
        return uid;
      }
    }
    throw failed(`no free sandbox uid: all ${this.size} uids from ${this.start} are in use (raise uidRangeSize)`, undefined, { reason: UIDS_EXHAUSTED });
  }

  async release(uid: number): Promise<void> {
    if (!this.held.delete(uid)) return;
    await unlink(path.join(this.lockDir, String(uid))).catch(() => undefined);
  }

  private async tryReserve(uid: number, owner: string): Promise<boolean> {
    const file = path.join(this.lockDir, String(uid));
    for (let attempt = 0; attempt < 2; attempt += 1) {
      // The reservation appears with its content at once (link of a written temp file), so a
      // reader never sees it empty: the orphan sweep of another process relies on that.
      const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(temporary, `${process.pid} ${owner}\n`, { flag: 'wx', mode: 0o600 });
        await link(temporary, file);
        return true;
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw failed(`cannot reserve sandbox uid ${uid} in ${this.lockDir}: ${(error as Error).message}`, error);
      } finally {
        await unlink(temporary).catch(() => undefined);
      }
      // Taken: reclaim it only when the process that reserved it is gone.
      const ownerPid = Number((await readFile(file, 'utf8').catch(() => '')).split(' ')[0]);
      if (!Number.isInteger(ownerPid) || ownerPid <= 0 || ownerPid === process.pid || isAlive(ownerPid)) return false;
      await unlink(file).catch(() => undefined);
    }
    return false;
  }
}
