import { FolderArtifactBlobs } from '../artifacts/folder.js';
import { ARTIFACT_COLUMNS, artifactValues, bytesOf, toArtifact, type ArtifactRow } from '../artifacts/rows.js';
import type { Artifact, ArtifactBlobs, ArtifactStore, ArtifactStoreOptions, NewArtifact } from '../artifacts/types.js';
import type { PgMigration } from './postgres-migrations.js';
import type { PostgresStore } from './postgres.js';

/** The artifacts module's tables in PostgreSQL: versions 50-59, like SQLite. */
export const postgresArtifactMigrations: PgMigration[] = [
  {
    version: 50,
    name: 'artifacts: artifacts, artifact_bytes',
    sql: `
CREATE TABLE artifacts (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  run_id          TEXT,
  media_type      TEXT NOT NULL,
  size            BIGINT NOT NULL,
  name            TEXT,
  sha256          TEXT NOT NULL,
  location        TEXT NOT NULL,
  created_at      BIGINT NOT NULL
);
CREATE INDEX artifacts_conversation ON artifacts (conversation_id, created_at);

CREATE TABLE artifact_bytes (
  artifact_id TEXT PRIMARY KEY REFERENCES artifacts (id) ON DELETE CASCADE,
  bytes       BYTEA NOT NULL
);
`,
  },
];

const INSERT = `INSERT INTO artifacts (${ARTIFACT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

/** Artifacts in the PostgreSQL database (and schema) of the core store, through its pool. */
export class PostgresArtifactStore implements ArtifactStore {
  readonly #store: PostgresStore;
  readonly #blobs: ArtifactBlobs | undefined;

  constructor(store: PostgresStore, opts: ArtifactStoreOptions = {}) {
    this.#store = store;
    this.#blobs = opts.dir ? new FolderArtifactBlobs(opts.dir) : undefined;
  }

  async init(): Promise<void> {
    await this.#store.migrate(postgresArtifactMigrations);
  }

  async put(a: NewArtifact): Promise<Artifact> {
    if (this.#blobs) {
      await this.#blobs.put(a.id, a.bytes);
      await this.#store.pool.query(INSERT, artifactValues(a, 'dir'));
    } else {
      await this.#store.transaction(async (client) => {
        await client.query(INSERT, artifactValues(a, 'store'));
        // pg sends a Buffer as bytea; a plain Uint8Array would be sent as text.
        await client.query('INSERT INTO artifact_bytes (artifact_id, bytes) VALUES ($1, $2)', [a.id, Buffer.from(a.bytes.buffer, a.bytes.byteOffset, a.bytes.length)]);
      });
    }
    return (await this.get(a.id))!;
  }

  async #row(id: string): Promise<ArtifactRow | undefined> {
    return (await this.#store.pool.query<ArtifactRow>(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE id = $1`, [id])).rows[0];
  }

  async get(id: string): Promise<Artifact | null> {
    const row = await this.#row(id);
    return row ? toArtifact(row) : null;
  }

  async read(id: string): Promise<{ artifact: Artifact; bytes: Uint8Array } | null> {
    const row = await this.#row(id);
    if (!row) return null;
    const fromStore = async () => (await this.#store.pool.query<{ bytes: Buffer }>('SELECT bytes FROM artifact_bytes WHERE artifact_id = $1', [id])).rows[0]?.bytes ?? null;
    return { artifact: toArtifact(row), bytes: await bytesOf(row, fromStore, this.#blobs) };
  }

  async list(conversationId: string): Promise<Artifact[]> {
    const { rows } = await this.#store.pool.query<ArtifactRow>(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE conversation_id = $1 ORDER BY created_at, id COLLATE "C"`, [conversationId]);
    return rows.map(toArtifact);
  }
}

/** The artifact store beside a PostgreSQL store (bytes in a BYTEA table, or in `opts.dir`). */
export function postgresArtifactStore(store: PostgresStore, opts: ArtifactStoreOptions = {}): PostgresArtifactStore {
  return new PostgresArtifactStore(store, opts);
}
