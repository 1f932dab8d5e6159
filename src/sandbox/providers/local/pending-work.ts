// Promises of work under way that a later step waits for (close(), settled()): each is forgotten
// once it settles.
export class PendingWork<T = void> {
  private readonly running = new Set<Promise<T>>();

  /** Tracks `work` until it settles; returns a promise that settles like it. */
  add(work: Promise<T>): Promise<T> {
    const tracked = work.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
    return tracked;
  }

  /** The work under way now. */
  list(): Array<Promise<T>> {
    return [...this.running];
  }

  get size(): number {
    return this.running.size;
  }
}
