import { refsSqliteMigrations } from './intake-migrations.js';
import { checkRef, type Json, type SurfaceRefKind, type SurfaceRefStore } from './refs.js';
import type { SqliteStore } from './sqlite.js';

/** Surface references in the SQLite file of the core store (migration 42), on its connection. */
export class SqliteSurfaceRefs implements SurfaceRefStore {
  readonly #store: SqliteStore;

  constructor(store: SqliteStore) {
    this.#store = store;
  }

  async init(): Promise<void> {
    this.#store.migrate(refsSqliteMigrations);
  }

  async put(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<void> {
    const text = checkRef(surface, kind, id, data);
    const now = this.#store.clock();
    this.#store.db
      .prepare(
        `INSERT INTO surface_refs (surface, kind, id, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (surface, kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
      )
      .run(surface, kind, id, text!, now, now);
  }

  async claim(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<{ claimed: boolean; data: Json }> {
    const text = checkRef(surface, kind, id, data);
    const now = this.#store.clock();
    const res = this.#store.db
      .prepare('INSERT INTO surface_refs (surface, kind, id, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(surface, kind, id, text!, now, now);
    if (res.changes === 1) return { claimed: true, data };
    // Lost to another claim: report what won (deleted in between: claim again).
    const stored = await this.get(surface, kind, id);
    return stored === null ? this.claim(surface, kind, id, data) : { claimed: false, data: stored };
  }

  async get(surface: string, kind: SurfaceRefKind, id: string): Promise<Json | null> {
    checkRef(surface, kind, id);
    const row = this.#store.db.prepare('SELECT data FROM surface_refs WHERE surface = ? AND kind = ? AND id = ?').get(surface, kind, id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as Json) : null;
  }

  async delete(surface: string, kind: SurfaceRefKind, id: string): Promise<void> {
    checkRef(surface, kind, id);
    this.#store.db.prepare('DELETE FROM surface_refs WHERE surface = ? AND kind = ? AND id = ?').run(surface, kind, id);
  }
}
