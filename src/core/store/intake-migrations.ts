import type { SqliteMigration } from './migrations.js';
import type { PgMigration } from './postgres-migrations.js';

/**
 * Lane INTAKE's schema (versions 40-49, both dialects): shared conversations and their participants,
 * idempotent intake, surface references. 40 and 41 change core tables and are part of the core
 * migrations (the Store reads these columns); 42 belongs to the SurfaceRefStore and is applied by its
 * `init`.
 *
 * A principal's id in SQL is `principalId` (store/types.ts): surface, tenant when set, user id.
 */

const sqlitePid = (json: string) =>
  `(json_extract(${json}, '$.surface') || ':' || COALESCE(NULLIF(json_extract(${json}, '$.tenant'), '') || ':', '') || json_extract(${json}, '$.userId'))`;

// Backfill: everyone who asked a run or made a plan before participants were recorded took part.
const sqliteBackfill = (table: string, column: string) => `INSERT OR IGNORE INTO conversation_participants (conversation_id, principal_id, principal, joined_at)
  SELECT conversation_id, ${sqlitePid(column)}, ${column}, MIN(created_at) FROM ${table} WHERE ${column} IS NOT NULL GROUP BY 1, 2`;

export const intakeSqliteMigrations: SqliteMigration[] = [
  {
    version: 40,
    name: 'intake: conversation access and participants',
    sql: `
ALTER TABLE conversations ADD COLUMN access TEXT NOT NULL DEFAULT 'private';
CREATE TABLE conversation_participants (
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  principal_id    TEXT NOT NULL,          -- principalId(principal)
  principal       TEXT NOT NULL,          -- JSON Principal
  joined_at       INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, principal_id)
);
INSERT OR IGNORE INTO conversation_participants (conversation_id, principal_id, principal, joined_at)
  SELECT id, ${sqlitePid('owner')}, owner, created_at FROM conversations;
${sqliteBackfill('runs', 'requested_by')};
`,
    up(db) {
      if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'plans'").get()) db.exec(sqliteBackfill('plans', 'created_by'));
    },
  },
  {
    version: 41,
    name: 'intake: run idempotency keys',
    sql: `
ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key);
`,
  },
];

export const refsSqliteMigrations: SqliteMigration[] = [
  {
    version: 42,
    name: 'intake: surface references',
    sql: `
CREATE TABLE surface_refs (
  surface    TEXT NOT NULL,
  kind       TEXT NOT NULL,
  id         TEXT NOT NULL,
  data       TEXT NOT NULL,               -- JSON
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (surface, kind, id)
);
`,
  },
];

const pgPid = (json: string) => `((${json} ->> 'surface') || ':' || COALESCE(NULLIF(${json} ->> 'tenant', '') || ':', '') || (${json} ->> 'userId'))`;

const pgBackfill = (table: string, column: string) => `INSERT INTO conversation_participants (conversation_id, principal_id, principal, joined_at)
  SELECT DISTINCT ON (conversation_id, pid) conversation_id, pid, principal, created_at
  FROM (SELECT conversation_id, ${pgPid(column)} AS pid, ${column} AS principal, created_at FROM ${table} WHERE ${column} IS NOT NULL) AS t
  ORDER BY conversation_id, pid, created_at
  ON CONFLICT DO NOTHING`;

export const intakePostgresMigrations: PgMigration[] = [
  {
    version: 40,
    name: 'intake: conversation access and participants',
    sql: `
ALTER TABLE conversations ADD COLUMN access TEXT NOT NULL DEFAULT 'private';
CREATE TABLE conversation_participants (
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  principal_id    TEXT NOT NULL,
  principal       JSONB NOT NULL,
  joined_at       BIGINT NOT NULL,
  PRIMARY KEY (conversation_id, principal_id)
);
INSERT INTO conversation_participants (conversation_id, principal_id, principal, joined_at)
  SELECT id, ${pgPid('owner')}, owner, created_at FROM conversations ON CONFLICT DO NOTHING;
${pgBackfill('runs', 'requested_by')};
`,
    async up(client) {
      const plans = (await client.query<{ t: string | null }>("SELECT to_regclass('plans')::text AS t")).rows[0]?.t;
      if (plans) await client.query(pgBackfill('plans', 'created_by'));
    },
  },
  {
    version: 41,
    name: 'intake: run idempotency keys',
    sql: `
ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key);
`,
  },
];

export const refsPostgresMigrations: PgMigration[] = [
  {
    version: 42,
    name: 'intake: surface references',
    sql: `
CREATE TABLE surface_refs (
  surface    TEXT NOT NULL,
  kind       TEXT NOT NULL,
  id         TEXT NOT NULL,
  data       JSONB NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (surface, kind, id)
);
`,
  },
];
