// The pool behind the ext4 image pairs and the warm sandboxes: items per key for the most recently
// wanted keys, made one at a time in the background, discarded when their key is forgotten.
import { describe, expect, it } from 'vitest';
import { AheadOfNeedPool } from '../../src/sandbox/ahead-of-need-pool.js';

function makePool(options: { size: number; keys: number; failOn?: string }) {
  const made: string[] = [];
  const discarded: string[] = [];
  const failures: unknown[] = [];
  let stopped = false;
  let serial = 0;
  const pool = new AheadOfNeedPool<string, string>({
    size: options.size,
    keys: options.keys,
    make: async (key, wanted) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (key === options.failOn) throw new Error(`cannot make ${key}`);
      const item = `${key}/${wanted}/${(serial += 1)}`;
      made.push(item);
      return item;
    },
    discard: (item) => discarded.push(item),
    stopped: () => stopped,
    onMakeFailed: (error) => failures.push(error),
  });
  return { pool, made, discarded, failures, stop: () => (stopped = true) };
}

describe('AheadOfNeedPool', () => {
  it('fills each wanted key to its size, one item at a time, and hands items out oldest first', async () => {
    const { pool, made } = makePool({ size: 2, keys: 2 });
    pool.want('a', 'x');
    await pool.filling;
    expect(made).toEqual(['a/x/1', 'a/x/2']);
    expect(pool.count).toBe(2);
    expect(pool.take('a')).toBe('a/x/1');
    expect(pool.take('b')).toBeUndefined();
    pool.want('a', 'y');
    await pool.filling;
    expect(made.at(-1)).toBe('a/y/3');
    expect(pool.count).toBe(2);
  });

  it('forgets the least recently wanted key beyond `keys` and discards its items', async () => {
    const { pool, discarded } = makePool({ size: 1, keys: 2 });
    pool.want('a', 'x');
    pool.want('b', 'x');
    await pool.filling;
    pool.want('a', 'x');
    pool.want('c', 'x');
    await pool.filling;
    expect(discarded).toEqual(['b/x/2']);
    expect(pool.take('b')).toBeUndefined();
    expect(pool.takeAny()).toBe('a/x/1');
    expect(pool.take('c')).toBe('c/x/3');
  });

  it('stops at a failure until the next want, makes nothing when off or stopped, and clear returns what was ready', async () => {
    const failing = makePool({ size: 1, keys: 2, failOn: 'bad' });
    failing.pool.want('bad', 'x');
    await failing.pool.filling;
    expect(failing.failures).toHaveLength(1);
    expect(failing.pool.filling).toBeUndefined();

    const off = makePool({ size: 0, keys: 2 });
    off.pool.want('a', 'x');
    expect(off.pool.filling).toBeUndefined();

    const stopping = makePool({ size: 2, keys: 2 });
    stopping.pool.want('a', 'x');
    stopping.stop();
    await stopping.pool.filling;
    // The item being made when the owner stopped is discarded, not kept.
    expect(stopping.discarded).toEqual(['a/x/1']);
    expect(stopping.pool.clear()).toEqual([]);

    const ready = makePool({ size: 1, keys: 2 });
    ready.pool.want('a', 'x');
    await ready.pool.filling;
    expect(ready.pool.clear()).toEqual(['a/x/1']);
    expect(ready.pool.count).toBe(0);
  });
});
