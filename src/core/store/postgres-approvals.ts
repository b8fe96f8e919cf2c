import type { PoolClient } from 'pg';
import type { Approval, ApprovalStatus, NewApproval } from '../approvals/types.js';
import { listApprovalsSql, type ApprovalFilter, type ApprovalPatch, type ApprovalStore } from './approval-store.js';
import { APPROVAL_COLUMNS, approvalValues, setClause, toApproval, type ApprovalRow } from './plan-rows.js';
import { postgresPlanMigrations } from './postgres-plan-migrations.js';
import type { PostgresStore } from './postgres.js';

/**
 * Approvals in the PostgreSQL database (and schema) of the core store, through its pool. The table
 * is created by the plans migration (20) that has always held it.
 */

type Q = Pick<PoolClient, 'query'>;

/** Inserts a pending approval; `onConflict` e.g. 'ON CONFLICT DO NOTHING'. Returns the rows written. */
export async function insertPgApproval(q: Q, a: NewApproval, onConflict = ''): Promise<number> {
  const values = approvalValues(a);
  const cols = Object.keys(values);
  const casts = cols.map((c, i) => `$${i + 1}${c === 'requested_by' ? '::jsonb' : ''}`);
  const res = await q.query(`INSERT INTO approvals (${cols.join(', ')}) VALUES (${casts.join(', ')}) ${onConflict}`, Object.values(values));
  return res.rowCount ?? 0;
}

/** The compare-and-set update of one approval; 1 when it applied, 0 when its status was not expected. */
export async function updatePgApproval(q: Q, id: string, expect: readonly ApprovalStatus[], patch: ApprovalPatch): Promise<number> {
  const { sql, values } = setClause(patch, APPROVAL_COLUMNS, (i) => `$${i}`);
  if (patch.decidedBy) {
    values.push(JSON.stringify(patch.decidedBy));
    sql.push(`decided_by = $${values.length}::jsonb`);
  }
  const res = await q.query(`UPDATE approvals SET ${sql.join(', ')} WHERE id = $${values.length + 1} AND status = ANY($${values.length + 2}::text[])`, [...values, id, expect]);
  return res.rowCount ?? 0;
}

export class PostgresApprovalStore implements ApprovalStore {
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

  async createToolApproval(a: NewApproval): Promise<{ approval: Approval; created: boolean }> {
    const created = (await insertPgApproval(this.#pool, a, 'ON CONFLICT DO NOTHING')) === 1;
    const res = await this.#pool.query("SELECT * FROM approvals WHERE run_id = $1 AND tool_call_id = $2 AND kind = 'tool_call'", [a.runId ?? null, a.toolCallId ?? null]);
    return { approval: toApproval(res.rows[0] as ApprovalRow), created };
  }

  async getApproval(id: string): Promise<Approval | null> {
    const row = (await this.#pool.query('SELECT * FROM approvals WHERE id = $1', [id])).rows[0] as ApprovalRow | undefined;
    return row ? toApproval(row) : null;
  }

  async listApprovals(filter: ApprovalFilter): Promise<Approval[]> {
    const { sql, params } = listApprovalsSql(filter, (i) => `$${i}`, null);
    return ((await this.#pool.query(sql, params)).rows as ApprovalRow[]).map(toApproval);
  }

  async updateApproval(id: string, expect: readonly ApprovalStatus[], patch: ApprovalPatch): Promise<boolean> {
    return (await updatePgApproval(this.#pool, id, expect, patch)) === 1;
  }
}
