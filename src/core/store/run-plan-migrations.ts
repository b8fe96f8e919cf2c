import type { SqliteMigration } from './migrations.js';
import type { PgMigration } from './postgres-migrations.js';

/**
 * Core migration 3 (both dialects): the plan a run works for. Set on a plan step's run and the plan's
 * summary run, and inherited by their delegations, so every event of those runs carries `planId` in
 * whichever process executes them. Runs of plans made before it get theirs from the plan tables.
 */
const NAME = 'core: the plan a run works for';
const BACKFILL = `UPDATE runs SET plan_id = COALESCE(
  (SELECT plan_id FROM plan_steps WHERE plan_steps.run_id = runs.id LIMIT 1),
  (SELECT id FROM plans WHERE plans.summary_run_id = runs.id LIMIT 1))
WHERE plan_id IS NULL`;

export const runPlanSqliteMigration: SqliteMigration = {
  version: 3,
  name: NAME,
  sql: 'ALTER TABLE runs ADD COLUMN plan_id TEXT;',
  up(db) {
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'plan_steps'").get()) db.exec(BACKFILL);
  },
};

export const runPlanPostgresMigration: PgMigration = {
  version: 3,
  name: NAME,
  sql: 'ALTER TABLE runs ADD COLUMN plan_id TEXT;',
  async up(client) {
    const steps = (await client.query<{ t: string | null }>("SELECT to_regclass('plan_steps')::text AS t")).rows[0]?.t;
    if (steps) await client.query(BACKFILL);
  },
};
