// Picks the Store adapter named by the configuration.
import type { HangarConfig } from '../config/config.js';
import { createSqliteStore } from './sqlite/index.js';
import type { Store } from './store.js';

export async function createStore(config: HangarConfig, paths: { sqlitePath: string }): Promise<Store> {
  switch (config.store.driver) {
    case 'sqlite':
      return createSqliteStore({ filePath: paths.sqlitePath });
  }
}
