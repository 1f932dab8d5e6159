// Things made ahead of need, by key: the local provider keeps formatted ext4 image pairs by size and
// warm sandboxes by shape this way. The pool remembers the most recently wanted keys (with what to
// make their items from), keeps up to `size` items for each, and makes them one at a time in one
// background loop. Items of a key that falls out of the remembered ones are discarded.
export interface AheadOfNeedPoolOptions<Wanted, Item> {
  /** Items kept per key; 0 turns the pool off. */
  size: number;
  /** Keys remembered: the most recently wanted ones. */
  keys: number;
  /** Makes one item for a key. A failure stops the loop until the next want(). */
  make(key: string, wanted: Wanted): Promise<Item>;
  /** Gets rid of an item nobody will take (in the background); `wanted` is what it was made from. */
  discard(item: Item, wanted: Wanted): void;
  /** True while the owner is closing: nothing more is made or kept. */
  stopped(): boolean;
  /** Told why making an item failed. */
  onMakeFailed(error: unknown): void;
}

export class AheadOfNeedPool<Wanted, Item> {
  private readonly items = new Map<string, Item[]>();
  private readonly wanted = new Map<string, Wanted>();
  private fillingLoop: Promise<void> | undefined;
  /** True from the start of a loop to the moment it decides to end (the same tick it ends in). */
  private running = false;

  constructor(private readonly options: AheadOfNeedPoolOptions<Wanted, Item>) {}

  /** The background loop, while it runs. */
  get filling(): Promise<void> | undefined {
    return this.fillingLoop;
  }

  /** Items ready over all keys. */
  get count(): number {
    let count = 0;
    for (const items of this.items.values()) count += items.length;
    return count;
  }

  /**
   * Records that a key is in use (forgetting the least recently used keys beyond `keys` and
   * discarding their items) and starts the loop that makes items until each key has `size`.
   */
  want(key: string, wanted: Wanted): void {
    const { size, keys } = this.options;
    if (size === 0 || this.options.stopped()) return;
    this.wanted.delete(key);
    this.wanted.set(key, wanted);
    for (const [oldest, oldestWanted] of [...this.wanted].slice(0, Math.max(0, this.wanted.size - keys))) {
      this.wanted.delete(oldest);
      for (const item of this.items.get(oldest) ?? []) this.options.discard(item, oldestWanted);
      this.items.delete(oldest);
    }
    // A loop that is running sees this key on its next round. One that has decided to end has
    // cleared `running` in that same tick, so a key wanted from then on starts a new loop.
    if (this.running) return;
    this.running = true;
    const loop = this.fill();
    this.fillingLoop = loop;
    void loop.finally(() => {
      if (this.fillingLoop === loop) this.fillingLoop = undefined;
    });
  }

  /** Takes the oldest item of a key, if any. */
  take(key: string): Item | undefined {
    return this.items.get(key)?.shift();
  }

  /** Takes an item of the least recently wanted key that has one, if any. */
  takeAny(): Item | undefined {
    for (const items of this.items.values()) {
      const item = items.shift();
      if (item !== undefined) return item;
    }
    return undefined;
  }

  /** Forgets every key; returns the items that were ready (the caller disposes of them). */
  clear(): Item[] {
    const items = [...this.items.values()].flat();
    this.items.clear();
    this.wanted.clear();
    return items;
  }

  private async fill(): Promise<void> {
    try {
      for (;;) {
        if (this.options.stopped()) return;
        const next = [...this.wanted].reverse().find(([key]) => (this.items.get(key)?.length ?? 0) < this.options.size);
        if (next === undefined) return;
        const [key, wanted] = next;
        let item: Item;
        try {
          item = await this.options.make(key, wanted);
        } catch (error) {
          this.options.onMakeFailed(error);
          return;
        }
        if (this.options.stopped() || !this.wanted.has(key)) {
          this.options.discard(item, wanted);
          continue;
        }
        this.items.set(key, [...(this.items.get(key) ?? []), item]);
      }
    } finally {
      this.running = false;
    }
  }
}
