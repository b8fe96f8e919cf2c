import { refsPostgresMigrations } from './intake-migrations.js';
import type { PostgresStore } from './postgres.js';
import { checkRef, type Json, type SurfaceRefKind, type SurfaceRefStore } from './refs.js';

/** Surface references in the PostgreSQL database (and schema) of the core store (migration 42), shared by every replica. */
export class PostgresSurfaceRefs implements SurfaceRefStore {
  readonly #store: PostgresStore;

  constructor(store: PostgresStore) {
    this.#store = store;
  }

  async init(): Promise<void> {
    await this.#store.migrate(refsPostgresMigrations);
  }

  async put(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<void> {
    const text = checkRef(surface, kind, id, data);
    await this.#store.pool.query(
      `INSERT INTO surface_refs (surface, kind, id, data, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $5)
       ON CONFLICT (surface, kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
      [surface, kind, id, text, this.#store.clock()],
    );
  }

  async claim(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<{ claimed: boolean; data: Json }> {
    const text = checkRef(surface, kind, id, data);
    // ON CONFLICT waits for a concurrent claim of the same key to commit: exactly one inserts.
    const res = await this.#store.pool.query(
      'INSERT INTO surface_refs (surface, kind, id, data, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $5) ON CONFLICT DO NOTHING',
      [surface, kind, id, text, this.#store.clock()],
    );
    if (res.rowCount === 1) return { claimed: true, data };
    const stored = await this.get(surface, kind, id);
    return stored === null ? this.claim(surface, kind, id, data) : { claimed: false, data: stored };
  }

  async get(surface: string, kind: SurfaceRefKind, id: string): Promise<Json | null> {
    checkRef(surface, kind, id);
    const res = await this.#store.pool.query('SELECT data FROM surface_refs WHERE surface = $1 AND kind = $2 AND id = $3', [surface, kind, id]);
    // pg parses JSONB, so a stored string comes back as that string: no second parse.
    return res.rows.length ? ((res.rows[0] as { data: Json }).data ?? null) : null;
  }

  async delete(surface: string, kind: SurfaceRefKind, id: string): Promise<void> {
    checkRef(surface, kind, id);
    await this.#store.pool.query('DELETE FROM surface_refs WHERE surface = $1 AND kind = $2 AND id = $3', [surface, kind, id]);
  }
}
