import type { Approval, ApprovalKind, ApprovalStatus, NewApproval } from '../approvals/types.js';
import type { Principal } from './types.js';

/**
 * Approvals on their own: a tool call's approval needs no plan, so a store without plans can keep
 * them. (Plan approvals are inserted and decided by plan transitions, atomically with the plan.)
 */

export type ApprovalPatch = Partial<{
  status: ApprovalStatus;
  decidedBy: Principal;
  feedback: string | null;
  action: string | null;
  decidedAt: number;
}>;

export interface ApprovalFilter {
  conversationId?: string;
  status?: ApprovalStatus;
  kind?: ApprovalKind;
  planId?: string;
  stepId?: string;
  runId?: string;
  limit?: number;
}

export interface ApprovalStore {
  /** Creates the table when missing; safe to call more than once. */
  init(): Promise<void>;
  /** A tool call's approval, created once per (runId, toolCallId): asking again returns the first. */
  createToolApproval(approval: NewApproval): Promise<{ approval: Approval; created: boolean }>;
  getApproval(id: string): Promise<Approval | null>;
  /** Oldest first. */
  listApprovals(filter: ApprovalFilter): Promise<Approval[]>;
  /** Compare-and-set: applies `patch` only while the approval's status is one of `expect`; false (nothing written) otherwise. */
  updateApproval(id: string, expect: readonly ApprovalStatus[], patch: ApprovalPatch): Promise<boolean>;
}

const FILTER_COLUMNS = { conversationId: 'conversation_id', status: 'status', kind: 'kind', planId: 'plan_id', stepId: 'step_id', runId: 'run_id' } as const;

/**
 * `listApprovals` for either dialect: `placeholder(i)` is `?` or `$i`, `noLimit` the LIMIT value that
 * means none (SQLite -1, PostgreSQL NULL).
 */
export function listApprovalsSql(filter: ApprovalFilter, placeholder: (i: number) => string, noLimit: unknown): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  for (const [key, column] of Object.entries(FILTER_COLUMNS) as [keyof typeof FILTER_COLUMNS, string][]) {
    if (filter[key] === undefined) continue;
    params.push(filter[key]);
    where.push(`${column} = ${placeholder(params.length)}`);
  }
  params.push(filter.limit ?? noLimit);
  return { sql: `SELECT * FROM approvals${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id LIMIT ${placeholder(params.length)}`, params };
}
