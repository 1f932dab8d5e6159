// What the in-memory repositories share: cloning records in and out, the list orders, and patches.

export const copy = <T>(value: T): T => structuredClone(value);

/** Orders newest first: by creation time, then by id, both descending; 0 only for the same record. */
export function newestFirst(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  if (a.id === b.id) return 0;
  return a.id < b.id ? 1 : -1;
}

export const oldestFirst = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number => newestFirst(b, a);

/** The patch without undefined fields and without the fields a patch may not change. */
export function definedFields<T extends object>(patch: T, immutable: string[]): Partial<T> {
  const result: Partial<T> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || immutable.includes(key)) continue;
    (result as Record<string, unknown>)[key] = structuredClone(value);
  }
  return result;
}
