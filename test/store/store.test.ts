import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { runStoreContract } from '../contracts/store.contract.js';

const directory = mkdtempSync(path.join(tmpdir(), 'hangar-store-'));
let counter = 0;
let currentFile = '';
afterAll(() => rmSync(directory, { recursive: true, force: true }));

runStoreContract('in-memory', async () => createInMemoryStore());
runStoreContract(
  'sqlite',
  async () => {
    counter += 1;
    currentFile = path.join(directory, `store-${counter}.db`);
    return createSqliteStore({ filePath: currentFile });
  },
  {
    reopen: async (previous) => {
      await previous.close();
      return createSqliteStore({ filePath: currentFile });
    },
  },
);
