import type { PoolClient } from 'pg';
import { InternalError } from '../errors.js';
import type { PlanStep } from '../plans/types.js';
import type { NewPlan, PlanFilter, PlanRecord, PlanStore, PlanTransition } from './plan-store.js';
import { PLAN_COLUMNS, STEP_COLUMNS, planExtras, setClause, toPlan, toStep, type PlanRow, type StepRow } from './plan-rows.js';
import { insertPgApproval, updatePgApproval } from './postgres-approvals.js';
import { postgresPlanMigrations } from './postgres-plan-migrations.js';
import type { PostgresStore } from './postgres.js';

export { postgresPlanMigrations };

const FINAL_SQL = "('completed', 'failed', 'cancelled')";
const $ = (i: number) => `$${i}`;

type Q = Pick<PoolClient, 'query'>;

/** Plans (and, in their transitions, plan approvals) in the PostgreSQL database (and schema) of the core store, through its pool. */
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
    if (t.approval && (await updatePgApproval(c, t.approval.id, t.approval.expect, t.approval.patch)) !== 1) throw abort;
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
    if (t.insertApproval) await insertPgApproval(c, t.insertApproval);
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

}
