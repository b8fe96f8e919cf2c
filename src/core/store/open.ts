import type { Config } from '../agents/spec.js';
import { openPersistence } from './persistence.js';
import type { Store } from './types.js';

/**
 * Opens the store the config names, alone (doctor, tools that only read runs). A database that cannot
 * be reached or a file that cannot be used becomes a StoreUnavailableError saying what to check — at
 * open, and at the `init` that connects. The engine opens the whole Persistence instead.
 */
export async function openStore(config: Config['store'], cwd: string): Promise<Store> {
  return (await openPersistence(config, cwd)).store;
}
