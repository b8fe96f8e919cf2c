import type { ArtifactStore, ArtifactStoreOptions } from '../artifacts/types.js';
import type { Store } from './types.js';

/**
 * The artifact store that lives beside `store`, in the same database; null for a Store this module
 * does not know. Chosen like the plan store until the per-dialect Persistence takes both over.
 */
export async function artifactStoreFor(store: Store, opts: ArtifactStoreOptions = {}): Promise<ArtifactStore | null> {
  const { SqliteStore } = await import('./sqlite.js');
  if (store instanceof SqliteStore) {
    const { sqliteArtifactStore } = await import('./sqlite-artifacts.js');
    return sqliteArtifactStore(store, opts);
  }
  if (store.constructor.name === 'PostgresStore') {
    const { PostgresStore } = await import('./postgres.js');
    if (store instanceof PostgresStore) {
      const { postgresArtifactStore } = await import('./postgres-artifacts.js');
      return postgresArtifactStore(store, opts);
    }
  }
  return null;
}
