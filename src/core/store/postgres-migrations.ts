import type { PoolClient } from 'pg';
import { intakePostgresMigrations } from './intake-migrations.js';
import { runPlanPostgresMigration } from './run-plan-migrations.js';
import { migrationClash } from './migrations.js';

/**
 * Versioned schema migrations for the PostgreSQL store, applied by `PostgresStore.migrate`.
 *
 * Each migration runs once, in version order, inside one transaction together with its row in
 * `switchboard_migrations`, under an advisory lock per schema, so replicas starting together apply
 * it exactly once. Never edit a migration that has shipped: append a new entry with a higher version.
 */

export interface PgMigration {
  version: number;
  name: string;
  /** DDL/DML run as one simple query; may hold several statements. Unqualified names land in the store's schema. */
  sql: string;
  /** Optional code step run after `sql`, in the same transaction (data migrations). */
  up?: (client: PoolClient) => Promise<void>;
}

export const postgresMigrations: PgMigration[] = [
  {
    version: 1,
    name: 'core: conversations, threads, messages, runs, run_steps',
    sql: `
CREATE TABLE conversations (
  id            TEXT PRIMARY KEY,
  key           TEXT NOT NULL UNIQUE,
  owner         JSONB NOT NULL,
  owner_surface TEXT NOT NULL,
  owner_user_id TEXT NOT NULL,
  title         TEXT,
  created_at    BIGINT NOT NULL
);
CREATE INDEX conversations_owner ON conversations (owner_surface, owner_user_id, created_at);
CREATE INDEX conversations_created ON conversations (created_at);

CREATE TABLE threads (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  agent           TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  UNIQUE (conversation_id, agent)
);

CREATE TABLE messages (
  id           TEXT PRIMARY KEY,
  thread_id    TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  seq          INTEGER NOT NULL,
  role         TEXT NOT NULL,
  author       TEXT NOT NULL,
  content      TEXT NOT NULL,
  images       JSONB,
  tool_calls   JSONB,
  tool_call_id TEXT,
  is_error     BOOLEAN NOT NULL DEFAULT FALSE,
  run_id       TEXT,
  created_at   BIGINT NOT NULL,
  UNIQUE (thread_id, seq)
);
CREATE INDEX messages_run ON messages (run_id) WHERE run_id IS NOT NULL;

CREATE TABLE runs (
  id                  TEXT PRIMARY KEY,
  conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  thread_id           TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  agent               TEXT NOT NULL,
  status              TEXT NOT NULL,
  input               JSONB,
  requested_by        JSONB,
  parent_run_id       TEXT,
  parent_tool_call_id TEXT,
  depth               INTEGER NOT NULL DEFAULT 0,
  reply               TEXT,
  error               TEXT,
  prompt_tokens       BIGINT NOT NULL DEFAULT 0,
  completion_tokens   BIGINT NOT NULL DEFAULT 0,
  cost                DOUBLE PRECISION NOT NULL DEFAULT 0,
  model_calls         INTEGER NOT NULL DEFAULT 0,
  lease_owner         TEXT,
  lease_until         BIGINT,
  created_at          BIGINT NOT NULL,
  started_at          BIGINT,
  ended_at            BIGINT,
  progress_at         BIGINT NOT NULL
);
CREATE INDEX runs_thread_status ON runs (thread_id, status, created_at);
CREATE INDEX runs_parent ON runs (parent_run_id, parent_tool_call_id);
CREATE INDEX runs_status_lease ON runs (status, lease_until);
CREATE INDEX runs_conversation ON runs (conversation_id, created_at);
CREATE INDEX runs_lease_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE run_steps (
  id                TEXT PRIMARY KEY,
  run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq               INTEGER NOT NULL,
  type              TEXT NOT NULL,
  status            TEXT NOT NULL,
  data              JSONB NOT NULL,
  prompt_tokens     BIGINT,
  completion_tokens BIGINT,
  cost              DOUBLE PRECISION NOT NULL DEFAULT 0,
  created_at        BIGINT NOT NULL,
  ended_at          BIGINT,
  UNIQUE (run_id, seq)
);
`,
  },
  runPlanPostgresMigration,
  ...intakePostgresMigrations,
];

/** First key of the two-int advisory lock taken while migrating; the second is the schema's hash. */
const MIGRATION_LOCK = 0x5bd0;

/**
 * Applies `sorted` migrations not yet recorded in `<schema>.switchboard_migrations`, on `client`,
 * which must be inside a transaction: takes the schema's advisory lock, creates the schema when
 * missing and puts it first on the transaction's search_path. Returns the versions it applied.
 */
export async function applyPgMigrations(client: PoolClient, schema: string, sorted: readonly PgMigration[], now: () => number): Promise<number[]> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, schema]);
  // CREATE SCHEMA checks the CREATE privilege on the database even with IF NOT EXISTS: look first.
  const exists = (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rows[0];
  if (!exists) await client.query(`CREATE SCHEMA "${schema}"`);
  await client.query("SELECT set_config('search_path', $1, true)", [`"${schema}"`]);
  await client.query(`CREATE TABLE IF NOT EXISTS switchboard_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
  )`);
  const done = new Map(
    (await client.query<{ version: number; name: string }>('SELECT version, name FROM switchboard_migrations', [])).rows.map((r) => [r.version, r.name]),
  );
  const applied: number[] = [];
  for (const m of sorted) {
    const recorded = done.get(m.version);
    if (recorded !== undefined) {
      // Two modules picked the same version: one of them would silently never run.
      if (recorded !== m.name) throw migrationClash('postgres', m, recorded);
      continue;
    }
    if (m.sql.trim()) await client.query(m.sql);
    await m.up?.(client);
    await client.query('INSERT INTO switchboard_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
    applied.push(m.version);
  }
  return applied;
}
