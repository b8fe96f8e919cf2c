import { ARTIFACT_COLUMNS, artifactValues, SqlArtifactStore, toArtifact, type ArtifactRow } from '../artifacts/rows.js';
import type { Artifact, ArtifactLocation, ArtifactStoreOptions, NewArtifact } from '../artifacts/types.js';
import type { SqliteMigration } from './migrations.js';
import type { SqliteStore } from './sqlite.js';

/** The artifacts module's tables in SQLite: versions 50-59. */
export const sqliteArtifactMigrations: SqliteMigration[] = [
  {
    version: 50,
    name: 'artifacts: artifacts, artifact_bytes',
    sql: `
CREATE TABLE artifacts (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  run_id          TEXT,
  media_type      TEXT NOT NULL,
  size            INTEGER NOT NULL,
  name            TEXT,
  sha256          TEXT NOT NULL,
  location        TEXT NOT NULL,          -- 'store': artifact_bytes; 'dir': the artifacts folder
  created_at      INTEGER NOT NULL
);
CREATE INDEX artifacts_conversation ON artifacts (conversation_id, created_at);

-- Bytes apart from the metadata, so listing a conversation's artifacts never pages through images.
CREATE TABLE artifact_bytes (
  artifact_id TEXT PRIMARY KEY REFERENCES artifacts (id) ON DELETE CASCADE,
  bytes       BLOB NOT NULL
);
`,
  },
];

const INSERT = `INSERT INTO artifacts (${ARTIFACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Artifacts in the SQLite file of the core store, on its connection. */
export class SqliteArtifactStore extends SqlArtifactStore {
  readonly #store: SqliteStore;

  constructor(store: SqliteStore, opts: ArtifactStoreOptions = {}) {
    super(opts);
    this.#store = store;
  }

  async init(): Promise<void> {
    this.#store.migrate(sqliteArtifactMigrations);
  }

  protected async insert(a: NewArtifact, location: ArtifactLocation): Promise<void> {
    const db = this.#store.db;
    db.transaction(() => {
      db.prepare(INSERT).run(...artifactValues(a, location));
      if (location === 'store') db.prepare('INSERT INTO artifact_bytes (artifact_id, bytes) VALUES (?, ?)').run(a.id, a.bytes);
    });
  }

  protected async row(id: string): Promise<ArtifactRow | undefined> {
    return this.#store.db.prepare(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE id = ?`).get(id) as unknown as ArtifactRow | undefined;
  }

  protected async storedBytes(id: string): Promise<Uint8Array | null> {
    const r = this.#store.db.prepare('SELECT bytes FROM artifact_bytes WHERE artifact_id = ?').get(id) as { bytes: Uint8Array } | undefined;
    return r ? r.bytes : null;
  }

  async list(conversationId: string): Promise<Artifact[]> {
    const rows = this.#store.db.prepare(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE conversation_id = ? ORDER BY created_at, id`).all(conversationId);
    return (rows as unknown as ArtifactRow[]).map(toArtifact);
  }
}

/** The artifact store beside a SQLite store (bytes in the file, or in `opts.dir`). */
export function sqliteArtifactStore(store: SqliteStore, opts: ArtifactStoreOptions = {}): SqliteArtifactStore {
  return new SqliteArtifactStore(store, opts);
}
