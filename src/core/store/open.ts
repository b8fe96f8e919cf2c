import { resolve } from 'node:path';
import type { Config } from '../agents/spec.js';
import { storeUnavailable } from './open-errors.js';
import type { Store } from './types.js';

/**
 * Opens the store the config names. A database that cannot be reached or a file that cannot be used
 * becomes a StoreUnavailableError saying what to check — at open, and at the `init` that connects.
 */
export async function openStore(config: Config['store'], cwd: string): Promise<Store> {
  const where = config.type === 'sqlite' && config.path !== ':memory:' ? resolve(cwd, config.path) : ':memory:';
  let store: Store;
  try {
    store = await openDriver(config, cwd);
  } catch (err) {
    throw storeUnavailable(config, where, err);
  }
  const init = store.init.bind(store);
  store.init = () => init().catch((err: unknown) => Promise.reject(storeUnavailable(config, where, err)));
  return store;
}

/**
 * Drivers load on demand, so an unused one costs nothing at start-up; for SQLite, sqlite-driver.ts then
 * loads node:sqlite or better-sqlite3, whichever this runtime can use.
 */
async function openDriver(config: Config['store'], cwd: string): Promise<Store> {
  if (config.type === 'sqlite') {
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore({ path: config.path === ':memory:' ? ':memory:' : resolve(cwd, config.path) });
  }
  const { PostgresStore } = await import('./postgres.js');
  return new PostgresStore({ url: config.url });
}
