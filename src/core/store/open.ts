import { resolve } from 'node:path';
import type { Config } from '../agents/spec.js';
import type { Store } from './types.js';

/**
 * Opens the store the config names. Drivers load on demand, so an unused one costs nothing at start-up;
 * for SQLite, sqlite-driver.ts then loads node:sqlite or better-sqlite3, whichever this runtime can use.
 */
export async function openStore(config: Config['store'], cwd: string): Promise<Store> {
  if (config.type === 'sqlite') {
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore({ path: config.path === ':memory:' ? ':memory:' : resolve(cwd, config.path) });
  }
  const { PostgresStore } = await import('./postgres.js');
  return new PostgresStore({ url: config.url });
}
