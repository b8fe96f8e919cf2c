import { FolderArtifactBlobs } from '../artifacts/folder.js';
import { ARTIFACT_COLUMNS, artifactValues, bytesOf, toArtifact, type ArtifactRow } from '../artifacts/rows.js';
import type { Artifact, ArtifactBlobs, ArtifactStore, ArtifactStoreOptions, NewArtifact } from '../artifacts/types.js';
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

/** Artifacts in the SQLite file of the core store, on its connection. */
export class SqliteArtifactStore implements ArtifactStore {
  readonly #store: SqliteStore;
  readonly #blobs: ArtifactBlobs | undefined;

  constructor(store: SqliteStore, opts: ArtifactStoreOptions = {}) {
    this.#store = store;
    this.#blobs = opts.dir ? new FolderArtifactBlobs(opts.dir) : undefined;
  }

  async init(): Promise<void> {
    this.#store.migrate(sqliteArtifactMigrations);
  }

  async put(a: NewArtifact): Promise<Artifact> {
    const insert = `INSERT INTO artifacts (${ARTIFACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
    const db = this.#store.db;
    if (this.#blobs) {
      await this.#blobs.put(a.id, a.bytes);
      db.prepare(insert).run(...artifactValues(a, 'dir'));
    } else {
      db.transaction(() => {
        db.prepare(insert).run(...artifactValues(a, 'store'));
        db.prepare('INSERT INTO artifact_bytes (artifact_id, bytes) VALUES (?, ?)').run(a.id, a.bytes);
      });
    }
    return (await this.get(a.id))!;
  }

  #row(id: string): ArtifactRow | undefined {
    return this.#store.db.prepare(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE id = ?`).get(id) as unknown as ArtifactRow | undefined;
  }

  async get(id: string): Promise<Artifact | null> {
    const row = this.#row(id);
    return row ? toArtifact(row) : null;
  }

  async read(id: string): Promise<{ artifact: Artifact; bytes: Uint8Array } | null> {
    const row = this.#row(id);
    if (!row) return null;
    const fromStore = async () => {
      const r = this.#store.db.prepare('SELECT bytes FROM artifact_bytes WHERE artifact_id = ?').get(id) as { bytes: Uint8Array } | undefined;
      return r ? r.bytes : null;
    };
    return { artifact: toArtifact(row), bytes: await bytesOf(row, fromStore, this.#blobs) };
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
