// Removal by descriptor: root removes a tree a hostile process may be changing, and never follows a
// link into a directory outside it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_REMOVE_DEPTH, removeTreeByDescriptor } from '../../src/sandbox/safe-remove.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A root-owned tree of files whose digest tells whether anything in it changed. */
function canary(): { dir: string; digest: () => string } {
  const dir = scratch('hangar-canary-');
  for (const sub of ['a', 'b', 'b/c']) mkdirSync(path.join(dir, sub));
  for (const file of ['one', 'a/two', 'b/three', 'b/c/four']) writeFileSync(path.join(dir, file), `content of ${file}\n`);
  const digest = (): string => {
    const hash = createHash('sha256');
    const walk = (current: string): void => {
      for (const name of readdirSync(current).sort()) {
        const entry = path.join(current, name);
        hash.update(entry);
        if (existsSync(entry) && readdirSync(path.dirname(entry)).includes(name)) {
          try {
            hash.update(readFileSync(entry));
          } catch {
            walk(entry);
          }
        }
      }
    };
    walk(dir);
    return hash.digest('hex');
  };
  return { dir, digest };
}

describe('removeTreeByDescriptor', () => {
  it('removes a tree with links, FIFOs and names that are not UTF-8, leaving the link targets alone', async () => {
    const target = canary();
    const before = target.digest();
    const root = scratch('hangar-remove-');
    const tree = path.join(root, 'tree');
    mkdirSync(path.join(tree, 'deep/er'), { recursive: true });
    writeFileSync(path.join(tree, 'deep/er/file'), 'x');
    symlinkSync(target.dir, path.join(tree, 'link-to-canary'));
    symlinkSync(path.join(target.dir, 'one'), path.join(tree, 'deep/link-to-file'));
    execFileSync('mkfifo', [path.join(tree, 'fifo')]);
    writeFileSync(Buffer.concat([Buffer.from(`${tree}/`), Buffer.from([0x62, 0xff, 0xfe])]), 'bad name');
    const outcome = await removeTreeByDescriptor(tree);
    expect(outcome.left).toEqual([]);
    expect(existsSync(tree)).toBe(false);
    expect(target.digest()).toBe(before);
  });

  it('is fine with a missing target and removes a plain file or link as the target itself', async () => {
    const root = scratch('hangar-remove-');
    expect(await removeTreeByDescriptor(path.join(root, 'missing'))).toEqual({ removed: 0, left: [] });
    const target = canary();
    symlinkSync(target.dir, path.join(root, 'link'));
    expect((await removeTreeByDescriptor(path.join(root, 'link'))).removed).toBe(1);
    expect(readdirSync(target.dir).sort()).toEqual(['a', 'b', 'one']);
  });

  it(`leaves trees nested deeper than ${MAX_REMOVE_DEPTH} directories and says so`, async () => {
    const root = scratch('hangar-remove-');
    // Built relative to each directory: the whole path is longer than PATH_MAX.
    execFileSync('sh', ['-c', `cd "$1" && i=0 && while [ $i -lt ${MAX_REMOVE_DEPTH + 5} ]; do mkdir d && cd d || exit 1; i=$((i+1)); done`, 'sh', root]);
    const outcome = await removeTreeByDescriptor(path.join(root, 'd'));
    expect(outcome.left.filter((entry) => /nested deeper/.test(entry))).toHaveLength(1);
    expect(existsSync(path.join(root, 'd'))).toBe(true);
  });

  it('never follows a directory a hostile process swaps with a symlink while the removal walks it', async () => {
    const target = canary();
    const before = target.digest();
    const root = scratch('hangar-race-');
    // The attacker runs as an unprivileged uid that owns the tree, as a sandbox would.
    const attackerUid = 65534;
    chownSync(root, attackerUid, attackerUid);
    // renameat2(RENAME_EXCHANGE) swaps each subdirectory with a symlink to the canary, over and over.
    const attack = `
      my ($root, $canary) = @ARGV;
      my $SYS_renameat2 = 316; my $AT_FDCWD = -100; my $RENAME_EXCHANGE = 2;
      $| = 1;
      for my $round (1 .. 20000) {
        print "swapping\n" if $round == 50;
        last unless -e "$root/tree";
        for my $i (1 .. 8) {
          my $dir = "$root/tree/d$i"; my $link = "$root/tree/l$i";
          syscall($SYS_renameat2, $AT_FDCWD, $dir, $AT_FDCWD, $link, $RENAME_EXCHANGE);
        }
      }`;
    for (let round = 0; round < 10; round += 1) {
      const tree = path.join(root, 'tree');
      execFileSync('setpriv', [
        '--reuid',
        String(attackerUid),
        '--regid',
        String(attackerUid),
        '--clear-groups',
        '--',
        'sh',
        '-c',
        `mkdir -p "$1" && cd "$1" && for i in 1 2 3 4 5 6 7 8; do mkdir -p d$i/x/y && touch d$i/x/y/f d$i/g && ln -s "$2" l$i; done`,
        'sh',
        tree,
        target.dir,
      ]);
      const attacker = spawn(
        'setpriv',
        ['--reuid', String(attackerUid), '--regid', String(attackerUid), '--clear-groups', '--', 'perl', '-e', attack, root, target.dir],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const attackerDone = new Promise((resolve) => attacker.once('exit', resolve));
      // The removal starts once the swaps are under way.
      await new Promise((resolve) => attacker.stdout.once('data', resolve));
      await removeTreeByDescriptor(tree);
      await attackerDone;
      rmSync(tree, { recursive: true, force: true });
      expect(target.digest()).toBe(before);
    }
  }, 120_000);
});
