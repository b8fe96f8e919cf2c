import { InternalError, StoreUnavailableError } from '../errors.js';
import { intakeSqliteMigrations } from './intake-migrations.js';
import { runPlanSqliteMigration } from './run-plan-migrations.js';
import type { SqliteDatabase } from './sqlite-driver.js';

/**
 * Versioned schema migrations for the SQLite store.
 *
 * Each migration runs once, in version order, inside one IMMEDIATE transaction together with its
 * row in `schema_migrations`, so two processes opening the same file at the same time apply it
 * exactly once. Never edit a migration that has shipped: append a new entry with a higher version.
 *
 * Other modules (plans, approvals) add their tables either by appending to `sqliteMigrations`
 * before the store is initialised, or by passing `extraMigrations` to `SqliteStore`, or by calling
 * `store.migrate([...])` later. Versions are global to the database file: pick unused numbers.
 */
export interface SqliteMigration {
  version: number;
  name: string;
  /** DDL/DML run with `db.exec`; may hold several statements. */
  sql: string;
  /** Optional code step run after `sql`, in the same transaction (data migrations). */
  up?: (db: SqliteDatabase) => void;
}

export const sqliteMigrations: SqliteMigration[] = [
  {
    version: 1,
    name: 'core: conversations, threads, messages, runs, run_steps',
    sql: `
CREATE TABLE conversations (
  id            TEXT PRIMARY KEY,
  key           TEXT NOT NULL UNIQUE,
  owner         TEXT NOT NULL,            -- JSON Principal
  owner_surface TEXT NOT NULL,
  owner_user_id TEXT NOT NULL,
  title         TEXT,
  created_at    INTEGER NOT NULL
);
CREATE INDEX conversations_owner ON conversations (owner_surface, owner_user_id, created_at);
CREATE INDEX conversations_created ON conversations (created_at);

CREATE TABLE threads (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  agent           TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  UNIQUE (conversation_id, agent)
);

CREATE TABLE messages (
  id           TEXT PRIMARY KEY,
  thread_id    TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  seq          INTEGER NOT NULL,
  role         TEXT NOT NULL,
  author       TEXT NOT NULL,
  content      TEXT NOT NULL,
  images       TEXT,                      -- JSON string[]
  tool_calls   TEXT,                      -- JSON ToolCall[]
  tool_call_id TEXT,
  is_error     INTEGER NOT NULL DEFAULT 0,
  run_id       TEXT,
  created_at   INTEGER NOT NULL,
  UNIQUE (thread_id, seq)
);

CREATE TABLE runs (
  id                  TEXT PRIMARY KEY,
  conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  thread_id           TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  agent               TEXT NOT NULL,
  status              TEXT NOT NULL,
  input               TEXT,               -- JSON { content, images?, author }
  requested_by        TEXT,               -- JSON Principal
  parent_run_id       TEXT,
  parent_tool_call_id TEXT,
  depth               INTEGER NOT NULL DEFAULT 0,
  reply               TEXT,
  error               TEXT,
  prompt_tokens       INTEGER NOT NULL DEFAULT 0,
  completion_tokens   INTEGER NOT NULL DEFAULT 0,
  cost                REAL NOT NULL DEFAULT 0,
  model_calls         INTEGER NOT NULL DEFAULT 0,
  lease_owner         TEXT,
  lease_until         INTEGER,
  created_at          INTEGER NOT NULL,
  started_at          INTEGER,
  ended_at            INTEGER,
  progress_at         INTEGER NOT NULL
);
CREATE INDEX runs_thread_status ON runs (thread_id, status, created_at);
CREATE INDEX runs_parent ON runs (parent_run_id, parent_tool_call_id);
CREATE INDEX runs_status_lease ON runs (status, lease_until);
CREATE INDEX runs_conversation ON runs (conversation_id, created_at);

CREATE TABLE run_steps (
  id                TEXT PRIMARY KEY,
  run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq               INTEGER NOT NULL,
  type              TEXT NOT NULL,
  status            TEXT NOT NULL,
  data              TEXT NOT NULL,        -- JSON
  prompt_tokens     INTEGER,              -- NULL when the step has no usage
  completion_tokens INTEGER,
  cost              REAL NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  ended_at          INTEGER,
  UNIQUE (run_id, seq)
);
`,
  },
  runPlanSqliteMigration,
  ...intakeSqliteMigrations,
];

const MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

/**
 * The database records another migration under a version this code also uses: it was made by another
 * version of Switchboard (or another module picked the same number). Running on would skip a migration.
 */
export function migrationClash(store: 'sqlite' | 'postgres', m: { version: number; name: string }, recorded: string): StoreUnavailableError {
  return new StoreUnavailableError(
    store,
    `migration ${m.version} "${m.name}" clashes with the database's migration ${m.version} "${recorded}": the database was set up by another version of Switchboard — use that version, or a fresh database`,
  );
}

/** Checks that versions are positive integers and unique; returns them sorted. */
export function sortMigrations<M extends { version: number; name: string }>(migrations: readonly M[]): M[] {
  const seen = new Map<number, string>();
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version < 1) throw new InternalError(`Migration "${m.name}" has an invalid version ${m.version}: versions are positive integers.`);
    const other = seen.get(m.version);
    if (other !== undefined) throw new InternalError(`Migrations "${other}" and "${m.name}" share version ${m.version}.`);
    seen.set(m.version, m.name);
  }
  return [...migrations].sort((a, b) => a.version - b.version);
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`. Safe to call any number of
 * times and from several processes at once. Returns the versions it applied.
 */
export function applyMigrations(db: SqliteDatabase, migrations: readonly SqliteMigration[], now: () => number = Date.now): number[] {
  const sorted = sortMigrations(migrations);
  return db.transaction(() => {
    db.exec(MIGRATIONS_TABLE);
    const done = new Map(
      (db.prepare('SELECT version, name FROM schema_migrations').all() as { version: number; name: string }[]).map((r) => [r.version, r.name]),
    );
    const insert = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const applied: number[] = [];
    for (const m of sorted) {
      const recorded = done.get(m.version);
      if (recorded !== undefined) {
        // Two modules picked the same version: one of them would silently never run.
        if (recorded !== m.name) throw migrationClash('sqlite', m, recorded);
        continue;
      }
      if (m.sql.trim()) db.exec(m.sql);
      m.up?.(db);
      insert.run(m.version, m.name, now());
      applied.push(m.version);
    }
    return applied;
  });
}

/** The versions recorded in `schema_migrations`, ascending (empty before the first migration). */
export function appliedMigrations(db: SqliteDatabase): { version: number; name: string; appliedAt: number }[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!exists) return [];
  const rows = db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as { version: number; name: string; applied_at: number }[];
  return rows.map((r) => ({ version: r.version, name: r.name, appliedAt: r.applied_at }));
}

/**
 * The plans module's tables (plans, plan_steps, approvals): versions 20-29. Applied by
 * `SqlitePlanStore.init` through `store.migrate`, so the core store's own versions stay its own.
 */
export const planSqliteMigrations: SqliteMigration[] = [
  {
    version: 20,
    name: 'plans: plans, plan_steps, approvals',
    sql: `
CREATE TABLE plans (
  id                  TEXT PRIMARY KEY,
  conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  goal                TEXT NOT NULL,
  status              TEXT NOT NULL,
  mode                TEXT NOT NULL,
  revision            INTEGER NOT NULL DEFAULT 0,
  summary             TEXT,
  error               TEXT,
  created_by          TEXT NOT NULL,      -- JSON Principal
  replan              TEXT,               -- JSON ReplanReason, while a revision is owed
  summary_run_id      TEXT,
  origin_run_id       TEXT,
  origin_tool_call_id TEXT,
  prompt_tokens       INTEGER NOT NULL DEFAULT 0,
  completion_tokens   INTEGER NOT NULL DEFAULT 0,
  model_calls         INTEGER NOT NULL DEFAULT 0,
  lease_owner         TEXT,
  lease_until         INTEGER,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);
CREATE INDEX plans_conversation ON plans (conversation_id, created_at);
CREATE INDEX plans_status ON plans (status);
CREATE UNIQUE INDEX plans_origin ON plans (origin_run_id, origin_tool_call_id) WHERE origin_run_id IS NOT NULL;

CREATE TABLE plan_steps (
  id          TEXT PRIMARY KEY,
  plan_id     TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
  idx         INTEGER NOT NULL,
  agent       TEXT NOT NULL,
  action      TEXT NOT NULL,
  status      TEXT NOT NULL,
  result      TEXT,
  error       TEXT,
  approval_id TEXT,
  run_id      TEXT,
  revision    INTEGER NOT NULL,
  superseded  INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX plan_steps_plan ON plan_steps (plan_id, superseded, idx);
CREATE INDEX plan_steps_approval ON plan_steps (approval_id);

CREATE TABLE approvals (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  kind            TEXT NOT NULL,
  status          TEXT NOT NULL,
  plan_id         TEXT,
  step_id         TEXT,
  run_id          TEXT,
  tool_call_id    TEXT,
  agent           TEXT NOT NULL,
  tool_name       TEXT,
  summary         TEXT NOT NULL,
  arguments       TEXT,                   -- JSON
  requested_by    TEXT,                   -- JSON Principal
  decided_by      TEXT,                   -- JSON Principal
  feedback        TEXT,
  action          TEXT,
  created_at      INTEGER NOT NULL,
  decided_at      INTEGER
);
CREATE UNIQUE INDEX approvals_tool_call ON approvals (run_id, tool_call_id) WHERE kind = 'tool_call';
CREATE INDEX approvals_conversation ON approvals (conversation_id, status, created_at);
CREATE INDEX approvals_status ON approvals (status, created_at);
CREATE INDEX approvals_plan ON approvals (plan_id, status);
`,
  },
];
