import { ARTIFACT_COLUMNS, artifactValues, SqlArtifactStore, toArtifact, type ArtifactRow } from '../artifacts/rows.js';
import type { Artifact, ArtifactLocation, ArtifactStoreOptions, NewArtifact } from '../artifacts/types.js';
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
export class PostgresArtifactStore extends SqlArtifactStore {
  readonly #store: PostgresStore;

  constructor(store: PostgresStore, opts: ArtifactStoreOptions = {}) {
    super(opts);
    this.#store = store;
  }

  async init(): Promise<void> {
    await this.#store.migrate(postgresArtifactMigrations);
  }

  protected async insert(a: NewArtifact, location: ArtifactLocation): Promise<void> {
    await this.#store.transaction(async (client) => {
      await client.query(INSERT, artifactValues(a, location));
      // pg sends a Buffer as bytea; a plain Uint8Array would be sent as text.
      if (location === 'store') await client.query('INSERT INTO artifact_bytes (artifact_id, bytes) VALUES ($1, $2)', [a.id, Buffer.from(a.bytes.buffer, a.bytes.byteOffset, a.bytes.length)]);
    });
  }

  protected async row(id: string): Promise<ArtifactRow | undefined> {
    return (await this.#store.pool.query<ArtifactRow>(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE id = $1`, [id])).rows[0];
  }

  protected async storedBytes(id: string): Promise<Uint8Array | null> {
    return (await this.#store.pool.query<{ bytes: Buffer }>('SELECT bytes FROM artifact_bytes WHERE artifact_id = $1', [id])).rows[0]?.bytes ?? null;
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
