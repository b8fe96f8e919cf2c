import type { PlanStep } from '../plans/types.js';
import { planSqliteMigrations } from './migrations.js';
import type { NewPlan, PlanFilter, PlanRecord, PlanStore, PlanTransition } from './plan-store.js';
import { PLAN_COLUMNS, STEP_COLUMNS, planExtras, setClause, toPlan, toStep, type PlanRow, type StepRow } from './plan-rows.js';
import { insertSqliteApproval, updateSqliteApproval } from './sqlite-approvals.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';
import type { SqliteStore } from './sqlite.js';

/**
 * Plans (and, in their transitions, plan approvals) in the SQLite file of the core store, on its connection (tables from
 * `planSqliteMigrations` in `migrations.ts`). The SQLite drivers are synchronous, so each method finishes its work before its
 * promise resolves, and a transition is one `BEGIN IMMEDIATE` transaction.
 */

const FINAL_SQL = "('completed', 'failed', 'cancelled')";
const q = () => '?';

export class SqlitePlanStore implements PlanStore {
  readonly #store: SqliteStore;
  readonly #db: SqliteDatabase;
  readonly #stmts = new Map<string, SqliteStatement>();

  constructor(store: SqliteStore) {
    this.#store = store;
    this.#db = store.db;
  }

  #q(sql: string): SqliteStatement {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }

  /** Creates the tables (migration 20) on the store's connection; the store must be initialised. */
  async init(): Promise<void> {
    this.#store.migrate(planSqliteMigrations);
  }

  #planSync(id: string): PlanRecord | null {
    const row = this.#q('SELECT * FROM plans WHERE id = ?').get(id) as unknown as PlanRow | undefined;
    return row ? toPlan(row, this.#stepsOf(row.id)) : null;
  }

  #stepsOf(planId: string): PlanStep[] {
    const rows = this.#q('SELECT * FROM plan_steps WHERE plan_id = ? AND superseded = 0 ORDER BY idx, created_at, id').all(planId) as unknown as StepRow[];
    return rows.map(toStep);
  }

  async createPlan(p: NewPlan): Promise<{ plan: PlanRecord; created: boolean }> {
    return this.#db
      .transaction(() => {
        if (p.originRunId && p.originToolCallId) {
          const existing = this.#q('SELECT id FROM plans WHERE origin_run_id = ? AND origin_tool_call_id = ?').get(p.originRunId, p.originToolCallId) as { id: string } | undefined;
          if (existing) return { plan: this.#planSync(existing.id)!, created: false };
        }
        this.#q(
          `INSERT INTO plans (id, conversation_id, goal, status, mode, revision, created_by, origin_run_id, origin_tool_call_id, lease_owner, lease_until, created_at, updated_at)
           VALUES (?, ?, ?, 'planning', ?, 0, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(p.id, p.conversationId, p.goal, p.mode, JSON.stringify(p.createdBy), p.originRunId ?? null, p.originToolCallId ?? null, p.leaseOwner, p.leaseUntil, p.now, p.now);
        return { plan: this.#planSync(p.id)!, created: true };
      });
  }

  async getPlan(id: string): Promise<PlanRecord | null> {
    return this.#planSync(id);
  }

  async listPlans(filter: PlanFilter): Promise<PlanRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.conversationId !== undefined) {
      where.push('conversation_id = ?');
      params.push(filter.conversationId);
    }
    if (filter.statuses) {
      if (filter.statuses.length === 0) return [];
      where.push(`status IN (${filter.statuses.map(() => '?').join(', ')})`);
      params.push(...filter.statuses);
    }
    params.push(filter.limit ?? -1);
    const sql = `SELECT * FROM plans${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id LIMIT ?`;
    return (this.#q(sql).all(...params) as unknown as PlanRow[]).map((r) => toPlan(r, this.#stepsOf(r.id)));
  }

  async getStep(id: string): Promise<PlanStep | null> {
    const row = this.#q('SELECT * FROM plan_steps WHERE id = ?').get(id) as unknown as StepRow | undefined;
    return row ? toStep(row) : null;
  }

  async transition(t: PlanTransition): Promise<boolean> {
    const abort = new Error('expectation failed');
    try {
      this.#db.transaction(() => this.#apply(t, abort));
      return true;
    } catch (err) {
      if (err === abort) return false;
      throw err;
    }
  }

  #apply(t: PlanTransition, abort: Error): void {
    const check = (changes: number) => {
      if (changes !== 1) throw abort;
    };
    if (t.approval) check(updateSqliteApproval((sql) => this.#q(sql), t.approval.id, t.approval.expect, t.approval.patch));
    if (t.plan) {
      const { sql, values } = setClause(t.plan.patch, PLAN_COLUMNS, q);
      for (const e of planExtras(t.plan.patch)) {
        sql.push(`${e.column} = ?`);
        values.push(e.value);
      }
      sql.push('updated_at = ?');
      values.push(t.now);
      let where = 'id = ?';
      const params: unknown[] = [t.plan.id];
      if (t.plan.expect) {
        where += ` AND status IN (${t.plan.expect.map(() => '?').join(', ')})`;
        params.push(...t.plan.expect);
      }
      if (t.plan.expectRevision !== undefined) {
        where += ' AND revision = ?';
        params.push(t.plan.expectRevision);
      }
      check(this.#q(`UPDATE plans SET ${sql.join(', ')} WHERE ${where}`).run(...values, ...params).changes);
    }
    for (const step of t.steps ?? []) {
      const { sql, values } = setClause(step.patch, STEP_COLUMNS, q);
      sql.push('updated_at = ?');
      values.push(t.now);
      let where = 'id = ?';
      const params: unknown[] = [step.id];
      if (step.expect) {
        where += ` AND status IN (${step.expect.map(() => '?').join(', ')})`;
        params.push(...step.expect);
      }
      check(this.#q(`UPDATE plan_steps SET ${sql.join(', ')} WHERE ${where}`).run(...values, ...params).changes);
      this.#q('UPDATE plans SET updated_at = ? WHERE id = (SELECT plan_id FROM plan_steps WHERE id = ?)').run(t.now, step.id);
    }
    for (const id of t.supersede ?? []) this.#q('UPDATE plan_steps SET superseded = 1, updated_at = ? WHERE id = ?').run(t.now, id);
    if (t.cancelPendingApprovalsOf) {
      this.#q("UPDATE approvals SET status = 'cancelled', decided_at = ? WHERE plan_id = ? AND status = 'pending'").run(t.now, t.cancelPendingApprovalsOf);
    }
    for (const s of t.insertSteps ?? []) {
      this.#q(
        `INSERT INTO plan_steps (id, plan_id, idx, agent, action, status, revision, created_at, updated_at)
         VALUES (?, ?, (SELECT COALESCE(MAX(idx), 0) + 1 FROM plan_steps WHERE plan_id = ? AND superseded = 0), ?, ?, 'planned', ?, ?, ?)`,
      ).run(s.id, s.planId, s.planId, s.agent, s.action, s.revision, t.now, t.now);
    }
    if (t.insertApproval) insertSqliteApproval((sql) => this.#q(sql), t.insertApproval);
  }

  async claimPlan(planId: string, owner: string, leaseUntil: number, now: number): Promise<boolean> {
    const sql = `UPDATE plans SET lease_owner = ?, lease_until = ?
      WHERE id = ? AND status NOT IN ${FINAL_SQL} AND (lease_owner IS NULL OR lease_owner = ? OR lease_until IS NULL OR lease_until < ?)`;
    return this.#q(sql).run(owner, leaseUntil, planId, owner, now).changes === 1;
  }

  async renewPlanLeases(owner: string, leaseUntil: number): Promise<void> {
    this.#q(`UPDATE plans SET lease_until = ? WHERE lease_owner = ? AND status NOT IN ${FINAL_SQL}`).run(leaseUntil, owner);
  }

  async releasePlanLeases(owner: string): Promise<void> {
    this.#q('UPDATE plans SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?').run(owner);
  }

}
