import type { PgMigration } from './postgres-migrations.js';

/** The plans module's tables in PostgreSQL (versions 20-29, like SQLite). */
export const postgresPlanMigrations: PgMigration[] = [
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
  created_by          JSONB NOT NULL,
  replan              JSONB,
  summary_run_id      TEXT,
  origin_run_id       TEXT,
  origin_tool_call_id TEXT,
  prompt_tokens       BIGINT NOT NULL DEFAULT 0,
  completion_tokens   BIGINT NOT NULL DEFAULT 0,
  model_calls         INTEGER NOT NULL DEFAULT 0,
  lease_owner         TEXT,
  lease_until         BIGINT,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL
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
  superseded  BOOLEAN NOT NULL DEFAULT FALSE,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
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
  arguments       TEXT,
  requested_by    JSONB,
  decided_by      JSONB,
  feedback        TEXT,
  action          TEXT,
  created_at      BIGINT NOT NULL,
  decided_at      BIGINT
);
CREATE UNIQUE INDEX approvals_tool_call ON approvals (run_id, tool_call_id) WHERE kind = 'tool_call';
CREATE INDEX approvals_conversation ON approvals (conversation_id, status, created_at);
CREATE INDEX approvals_status ON approvals (status, created_at);
CREATE INDEX approvals_plan ON approvals (plan_id, status);
`,
  },
];
