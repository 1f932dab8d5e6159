// In-memory adapter of the Store port, for unit tests of the code above it. Nothing survives close().
import { HangarError } from '../errors/errors.js';
import type { Store, TaskRecord } from './store.js';

export function createInMemoryStore(): Store {
  const tasks = new Map<string, TaskRecord>();
  const copy = (task: TaskRecord): TaskRecord => structuredClone(task);
  // Orders newest first: by creation time, then by id, both descending; 0 only for the same task.
  const newestFirst = (a: TaskRecord, b: TaskRecord): number => {
    if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
    if (a.id === b.id) return 0;
    return a.id < b.id ? 1 : -1;
  };
  return {
    tasks: {
      async insert(task) {
        if (tasks.has(task.id)) throw new HangarError('CONFLICT', `task ${task.id} already exists`);
        tasks.set(task.id, copy(task));
      },
      async update(id, patch) {
        const current = tasks.get(id);
        if (current === undefined) throw new HangarError('TASK_NOT_FOUND', `task ${id} does not exist`);
        const next = { ...current, ...structuredClone(patch), id: current.id, createdAt: current.createdAt };
        tasks.set(id, next);
        return copy(next);
      },
      async get(id) {
        const task = tasks.get(id);
        return task === undefined ? undefined : copy(task);
      },
      async list(query) {
        let all = [...tasks.values()].sort(newestFirst);
        if (query.status !== undefined) all = all.filter((task) => task.status === query.status);
        if (query.before !== undefined) {
          const anchor = tasks.get(query.before);
          if (anchor === undefined) throw new HangarError('TASK_NOT_FOUND', `task ${query.before} (the paging cursor) does not exist`);
          all = all.filter((task) => newestFirst(anchor, task) < 0);
        }
        return all.slice(0, query.limit).map(copy);
      },
      async interruptRunning(reason) {
        let count = 0;
        for (const task of tasks.values()) {
          if (task.status !== 'running') continue;
          task.status = 'interrupted';
          task.error = { ...reason };
          task.finishedAt = new Date().toISOString();
          count += 1;
        }
        return count;
      },
    },
    async close() {
      tasks.clear();
    },
  };
}
