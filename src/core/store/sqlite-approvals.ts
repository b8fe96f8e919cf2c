import type { Approval, ApprovalStatus, NewApproval } from '../approvals/types.js';
import { listApprovalsSql, type ApprovalFilter, type ApprovalPatch, type ApprovalStore } from './approval-store.js';
import { planSqliteMigrations } from './migrations.js';
import { APPROVAL_COLUMNS, approvalValues, setClause, toApproval, type ApprovalRow } from './plan-rows.js';
import type { SqliteStatement } from './sqlite-driver.js';
import type { SqliteStore } from './sqlite.js';

/**
 * Approvals in the SQLite file of the core store, on its connection. The table is created by the
 * plans migration (20) that has always held it; a store used without plans gets it all the same.
 */

type Prepare = (sql: string) => SqliteStatement;

/** Inserts a pending approval; `onConflict` e.g. 'ON CONFLICT DO NOTHING'. Returns the rows written. */
export function insertSqliteApproval(q: Prepare, a: NewApproval, onConflict = ''): number {
  const values = approvalValues(a);
  const cols = Object.keys(values);
  return q(`INSERT INTO approvals (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) ${onConflict}`).run(...Object.values(values)).changes;
}

/** The compare-and-set update of one approval; 1 when it applied, 0 when its status was not expected. */
export function updateSqliteApproval(q: Prepare, id: string, expect: readonly ApprovalStatus[], patch: ApprovalPatch): number {
  const { sql, values } = setClause(patch, APPROVAL_COLUMNS, () => '?');
  if (patch.decidedBy) {
    sql.push('decided_by = ?');
    values.push(JSON.stringify(patch.decidedBy));
  }
  return q(`UPDATE approvals SET ${sql.join(', ')} WHERE id = ? AND status IN (${expect.map(() => '?').join(', ')})`).run(...values, id, ...expect).changes;
}

export class SqliteApprovalStore implements ApprovalStore {
  readonly #store: SqliteStore;
  readonly #stmts = new Map<string, SqliteStatement>();
  readonly #q: Prepare = (sql) => {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#store.db.prepare(sql)));
    return s;
  };

  constructor(store: SqliteStore) {
    this.#store = store;
  }

  async init(): Promise<void> {
    this.#store.migrate(planSqliteMigrations);
  }

  async createToolApproval(a: NewApproval): Promise<{ approval: Approval; created: boolean }> {
    // A transaction, so that the events announcing the approval are stored with it (sqlite-riders.ts).
    return this.#store.db.transaction(() => {
      const created = insertSqliteApproval(this.#q, a, 'ON CONFLICT DO NOTHING') === 1;
      const row = this.#q("SELECT * FROM approvals WHERE run_id = ? AND tool_call_id = ? AND kind = 'tool_call'").get(a.runId ?? null, a.toolCallId ?? null) as unknown as ApprovalRow;
      return { approval: toApproval(row), created };
    });
  }

  async getApproval(id: string): Promise<Approval | null> {
    const row = this.#q('SELECT * FROM approvals WHERE id = ?').get(id) as unknown as ApprovalRow | undefined;
    return row ? toApproval(row) : null;
  }

  async listApprovals(filter: ApprovalFilter): Promise<Approval[]> {
    const { sql, params } = listApprovalsSql(filter, () => '?', -1);
    return (this.#q(sql).all(...params) as unknown as ApprovalRow[]).map(toApproval);
  }

  async updateApproval(id: string, expect: readonly ApprovalStatus[], patch: ApprovalPatch): Promise<boolean> {
    // A transaction, so that the event announcing a decision is stored with it (sqlite-riders.ts).
    return this.#store.db.transaction(() => updateSqliteApproval(this.#q, id, expect, patch) === 1);
  }
}
