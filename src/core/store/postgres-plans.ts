import type { PoolClient } from 'pg';
import { InternalError } from '../errors.js';
import type { Approval, NewApproval } from '../approvals/types.js';
import type { PlanStep } from '../plans/types.js';
import type { ApprovalFilter, NewPlan, PlanFilter, PlanRecord, PlanStore, PlanTransition } from './plan-store.js';
import {
  APPROVAL_COLUMNS,
  PLAN_COLUMNS,
  STEP_COLUMNS,
  approvalValues,
  planExtras,
  setClause,
  toApproval,
  toPlan,
  toStep,
  type ApprovalRow,
  type PlanRow,
  type StepRow,
} from './plan-rows.js';
import type { PgMigration } from './postgres-migrations.js';
import type { PostgresStore } from './postgres.js';
import type { Principal } from './types.js';

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

const FINAL_SQL = "('completed', 'failed', 'cancelled')";
const $ = (i: number) => `$${i}`;

type Q = Pick<PoolClient, 'query'>;

/** Plans and approvals in the PostgreSQL database (and schema) of the core store, through its pool. */
export class PostgresPlanStore implements PlanStore {
  readonly #store: PostgresStore;

  constructor(store: PostgresStore) {
    this.#store = store;
  }

  get #pool(): Q {
    return this.#store.pool as unknown as Q;
  }

  async init(): Promise<void> {
    await this.#store.migrate(postgresPlanMigrations);
  }

  async #rows<R>(q: Q, sql: string, params: unknown[]): Promise<R[]> {
    return (await q.query(sql, params)).rows as R[];
  }

  async #plan(q: Q, id: string): Promise<PlanRecord | null> {
    const [row] = await this.#rows<PlanRow>(q, 'SELECT * FROM plans WHERE id = $1', [id]);
    return row ? toPlan(row, await this.#stepsOf(q, id)) : null;
  }

  async #stepsOf(q: Q, planId: string): Promise<PlanStep[]> {
    const rows = await this.#rows<StepRow>(q, 'SELECT * FROM plan_steps WHERE plan_id = $1 AND NOT superseded ORDER BY idx, created_at, id', [planId]);
    return rows.map(toStep);
  }

  async createPlan(p: NewPlan): Promise<{ plan: PlanRecord; created: boolean }> {
    return this.#store.transaction(async (client) => {
      const inserted = await this.#rows<{ id: string }>(
        client,
        `INSERT INTO plans (id, conversation_id, goal, status, mode, revision, created_by, origin_run_id, origin_tool_call_id, lease_owner, lease_until, created_at, updated_at)
         VALUES ($1, $2, $3, 'planning', $4, 0, $5::jsonb, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING RETURNING id`,
        [p.id, p.conversationId, p.goal, p.mode, JSON.stringify(p.createdBy), p.originRunId ?? null, p.originToolCallId ?? null, p.leaseOwner, p.leaseUntil, p.now],
      );
      if (inserted.length === 1) return { plan: (await this.#plan(client, p.id))!, created: true };
      const [existing] = await this.#rows<{ id: string }>(client, 'SELECT id FROM plans WHERE origin_run_id = $1 AND origin_tool_call_id = $2', [
        p.originRunId ?? null,
        p.originToolCallId ?? null,
      ]);
      if (!existing) throw new InternalError(`Plan ${p.id} could not be created: its id is taken and no plan has its origin.`);
      return { plan: (await this.#plan(client, existing.id))!, created: false };
    });
  }

  async getPlan(id: string): Promise<PlanRecord | null> {
    return this.#plan(this.#pool, id);
  }

  async listPlans(filter: PlanFilter): Promise<PlanRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.conversationId !== undefined) {
      params.push(filter.conversationId);
      where.push(`conversation_id = $${params.length}`);
    }
    if (filter.statuses) {
      if (filter.statuses.length === 0) return [];
      params.push(filter.statuses);
      where.push(`status = ANY($${params.length}::text[])`);
    }
    params.push(filter.limit ?? null);
    const rows = await this.#rows<PlanRow>(
      this.#pool,
      `SELECT * FROM plans${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id LIMIT $${params.length}`,
      params,
    );
    return Promise.all(rows.map(async (r) => toPlan(r, await this.#stepsOf(this.#pool, r.id))));
  }

  async getStep(id: string): Promise<PlanStep | null> {
    const [row] = await this.#rows<StepRow>(this.#pool, 'SELECT * FROM plan_steps WHERE id = $1', [id]);
    return row ? toStep(row) : null;
  }

  async #insertApproval(q: Q, a: NewApproval, onConflict: string): Promise<number> {
    const values = approvalValues(a);
    const cols = Object.keys(values);
    const casts = cols.map((c, i) => `$${i + 1}${c === 'requested_by' ? '::jsonb' : ''}`);
    const res = await q.query(`INSERT INTO approvals (${cols.join(', ')}) VALUES (${casts.join(', ')}) ${onConflict}`, Object.values(values));
    return res.rowCount ?? 0;
  }

  async createToolApproval(a: NewApproval): Promise<{ approval: Approval; created: boolean }> {
    const created = (await this.#insertApproval(this.#pool, a, 'ON CONFLICT DO NOTHING')) === 1;
    const [row] = await this.#rows<ApprovalRow>(this.#pool, "SELECT * FROM approvals WHERE run_id = $1 AND tool_call_id = $2 AND kind = 'tool_call'", [
      a.runId ?? null,
      a.toolCallId ?? null,
    ]);
    return { approval: toApproval(row!), created };
  }

  async getApproval(id: string): Promise<Approval | null> {
    const [row] = await this.#rows<ApprovalRow>(this.#pool, 'SELECT * FROM approvals WHERE id = $1', [id]);
    return row ? toApproval(row) : null;
  }

  async listApprovals(filter: ApprovalFilter): Promise<Approval[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const columns = { conversationId: 'conversation_id', status: 'status', kind: 'kind', planId: 'plan_id', stepId: 'step_id', runId: 'run_id' } as const;
    for (const [key, column] of Object.entries(columns) as [keyof typeof columns, string][]) {
      if (filter[key] === undefined) continue;
      params.push(filter[key]);
      where.push(`${column} = $${params.length}`);
    }
    params.push(filter.limit ?? null);
    const sql = `SELECT * FROM approvals${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id LIMIT $${params.length}`;
    return (await this.#rows<ApprovalRow>(this.#pool, sql, params)).map(toApproval);
  }

  async transition(t: PlanTransition): Promise<boolean> {
    const abort = new Error('expectation failed');
    try {
      await this.#store.transaction((client) => this.#apply(client, t, abort));
      return true;
    } catch (err) {
      if (err === abort) return false;
      throw err;
    }
  }

  async #apply(c: Q, t: PlanTransition, abort: Error): Promise<void> {
    const update = async (sql: string, params: unknown[]) => {
      if ((await c.query(sql, params)).rowCount !== 1) throw abort;
    };
    if (t.approval) {
      const { sql, values } = setClause(t.approval.patch, APPROVAL_COLUMNS, $);
      if (t.approval.patch.decidedBy) {
        values.push(JSON.stringify(t.approval.patch.decidedBy));
        sql.push(`decided_by = $${values.length}::jsonb`);
      }
      await update(`UPDATE approvals SET ${sql.join(', ')} WHERE id = $${values.length + 1} AND status = ANY($${values.length + 2}::text[])`, [
        ...values,
        t.approval.id,
        t.approval.expect,
      ]);
    }
    if (t.plan) {
      const { sql, values } = setClause(t.plan.patch, PLAN_COLUMNS, $);
      for (const e of planExtras(t.plan.patch)) {
        values.push(e.value);
        sql.push(`${e.column} = $${values.length}${e.column === 'replan' ? '::jsonb' : ''}`);
      }
      values.push(t.now);
      sql.push(`updated_at = $${values.length}`);
      values.push(t.plan.id);
      let where = `id = $${values.length}`;
      if (t.plan.expect) {
        values.push(t.plan.expect);
        where += ` AND status = ANY($${values.length}::text[])`;
      }
      if (t.plan.expectRevision !== undefined) {
        values.push(t.plan.expectRevision);
        where += ` AND revision = $${values.length}`;
      }
      await update(`UPDATE plans SET ${sql.join(', ')} WHERE ${where}`, values);
    }
    for (const step of t.steps ?? []) {
      const { sql, values } = setClause(step.patch, STEP_COLUMNS, $);
      values.push(t.now);
      sql.push(`updated_at = $${values.length}`);
      values.push(step.id);
      let where = `id = $${values.length}`;
      if (step.expect) {
        values.push(step.expect);
        where += ` AND status = ANY($${values.length}::text[])`;
      }
      await update(`UPDATE plan_steps SET ${sql.join(', ')} WHERE ${where}`, values);
      await c.query('UPDATE plans SET updated_at = $1 WHERE id = (SELECT plan_id FROM plan_steps WHERE id = $2)', [t.now, step.id]);
    }
    if (t.supersede?.length) await c.query('UPDATE plan_steps SET superseded = TRUE, updated_at = $1 WHERE id = ANY($2::text[])', [t.now, t.supersede]);
    if (t.cancelPendingApprovalsOf) {
      await c.query("UPDATE approvals SET status = 'cancelled', decided_at = $1 WHERE plan_id = $2 AND status = 'pending'", [t.now, t.cancelPendingApprovalsOf]);
    }
    for (const s of t.insertSteps ?? []) {
      await c.query(
        `INSERT INTO plan_steps (id, plan_id, idx, agent, action, status, revision, created_at, updated_at)
         VALUES ($1, $2, (SELECT COALESCE(MAX(idx), 0) + 1 FROM plan_steps WHERE plan_id = $2 AND NOT superseded), $3, $4, 'planned', $5, $6, $6)`,
        [s.id, s.planId, s.agent, s.action, s.revision, t.now],
      );
    }
    if (t.insertApproval) await this.#insertApproval(c, t.insertApproval, '');
  }

  async claimPlan(planId: string, owner: string, leaseUntil: number, now: number): Promise<boolean> {
    const res = await this.#pool.query(
      `UPDATE plans SET lease_owner = $1, lease_until = $2
       WHERE id = $3 AND status NOT IN ${FINAL_SQL} AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until IS NULL OR lease_until < $4)`,
      [owner, leaseUntil, planId, now],
    );
    return res.rowCount === 1;
  }

  async renewPlanLeases(owner: string, leaseUntil: number): Promise<void> {
    await this.#pool.query(`UPDATE plans SET lease_until = $1 WHERE lease_owner = $2 AND status NOT IN ${FINAL_SQL}`, [leaseUntil, owner]);
  }

  async releasePlanLeases(owner: string): Promise<void> {
    await this.#pool.query('UPDATE plans SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1', [owner]);
  }

  async isParticipant(conversationId: string, p: Principal): Promise<boolean> {
    const match = (column: string) => `${column}->>'surface' = $2 AND ${column}->>'userId' = $3 AND COALESCE(${column}->>'tenant', '') = $4`;
    const rows = await this.#rows(
      this.#pool,
      `SELECT 1 FROM runs WHERE conversation_id = $1 AND ${match('requested_by')}
       UNION ALL SELECT 1 FROM plans WHERE conversation_id = $1 AND ${match('created_by')} LIMIT 1`,
      [conversationId, p.surface, p.userId, p.tenant ?? ''],
    );
    return rows.length > 0;
  }
}
