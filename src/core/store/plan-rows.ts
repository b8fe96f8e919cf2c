import type { Approval, ApprovalKind, ApprovalStatus, NewApproval } from '../approvals/types.js';
import type { PlanApprovalMode, PlanStatus, PlanStep, StepStatus } from '../plans/types.js';
import type { PlanPatch, PlanRecord, ReplanReason } from './plan-store.js';
import { num } from './rows.js';
import type { Principal } from './types.js';

/**
 * Rows of the plans, plan_steps and approvals tables and their mapping, shared by the SQLite and
 * PostgreSQL plan stores. Numbers may arrive as strings (PostgreSQL BIGINT) and JSON as text
 * (SQLite) or as parsed values (PostgreSQL JSONB): the mappers accept both.
 */

export interface PlanRow {
  id: string;
  conversation_id: string;
  goal: string;
  status: string;
  mode: string;
  revision: number | string;
  summary: string | null;
  error: string | null;
  created_by: unknown;
  replan: unknown;
  summary_run_id: string | null;
  origin_run_id: string | null;
  origin_tool_call_id: string | null;
  prompt_tokens: number | string;
  completion_tokens: number | string;
  model_calls: number | string;
  lease_owner: string | null;
  lease_until: number | string | null;
  created_at: number | string;
  updated_at: number | string;
}

export interface StepRow {
  id: string;
  plan_id: string;
  idx: number | string;
  agent: string;
  action: string;
  status: string;
  result: string | null;
  error: string | null;
  approval_id: string | null;
  run_id: string | null;
  revision: number | string;
}

export interface ApprovalRow {
  id: string;
  conversation_id: string;
  kind: string;
  status: string;
  plan_id: string | null;
  step_id: string | null;
  run_id: string | null;
  tool_call_id: string | null;
  agent: string;
  tool_name: string | null;
  summary: string;
  arguments: string | null;
  requested_by: unknown;
  decided_by: unknown;
  feedback: string | null;
  action: string | null;
  created_at: number | string;
  decided_at: number | string | null;
}

/** Plain columns a patch may set, by patch key. */
export const PLAN_COLUMNS: Record<string, string> = { status: 'status', error: 'error', summary: 'summary', summaryRunId: 'summary_run_id', revision: 'revision' };
export const STEP_COLUMNS: Record<string, string> = {
  status: 'status',
  action: 'action',
  result: 'result',
  error: 'error',
  approvalId: 'approval_id',
  runId: 'run_id',
};
export const APPROVAL_COLUMNS: Record<string, string> = { status: 'status', feedback: 'feedback', action: 'action', decidedAt: 'decided_at' };

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export function toStep(r: StepRow): PlanStep {
  const s: PlanStep = { id: r.id, planId: r.plan_id, index: num(r.idx), agent: r.agent, action: r.action, status: r.status as StepStatus, revision: num(r.revision) };
  if (r.result !== null) s.result = r.result;
  if (r.error !== null) s.error = r.error;
  if (r.approval_id !== null) s.approvalId = r.approval_id;
  if (r.run_id !== null) s.runId = r.run_id;
  return s;
}

export function toPlan(r: PlanRow, steps: PlanStep[]): PlanRecord {
  const p: PlanRecord = {
    id: r.id,
    conversationId: r.conversation_id,
    goal: r.goal,
    status: r.status as PlanStatus,
    steps,
    createdBy: json<Principal>(r.created_by),
    revision: num(r.revision),
    mode: r.mode as PlanApprovalMode,
    usage: { promptTokens: num(r.prompt_tokens), completionTokens: num(r.completion_tokens), modelCalls: num(r.model_calls) },
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    replan: r.replan === null ? null : json<ReplanReason>(r.replan),
    summaryRunId: r.summary_run_id,
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until === null ? null : num(r.lease_until),
    originRunId: r.origin_run_id,
    originToolCallId: r.origin_tool_call_id,
  };
  if (r.summary !== null) p.summary = r.summary;
  if (r.error !== null) p.error = r.error;
  return p;
}

export function toApproval(r: ApprovalRow): Approval {
  const a: Approval = {
    id: r.id,
    conversationId: r.conversation_id,
    kind: r.kind as ApprovalKind,
    agent: r.agent,
    summary: r.summary,
    requestedBy: r.requested_by === null ? null : json<Principal>(r.requested_by),
    status: r.status as ApprovalStatus,
    createdAt: num(r.created_at),
  };
  if (r.plan_id !== null) a.planId = r.plan_id;
  if (r.step_id !== null) a.stepId = r.step_id;
  if (r.run_id !== null) a.runId = r.run_id;
  if (r.tool_call_id !== null) a.toolCallId = r.tool_call_id;
  if (r.tool_name !== null) a.toolName = r.tool_name;
  if (r.arguments !== null) a.arguments = JSON.parse(r.arguments) as unknown;
  if (r.decided_by !== null) a.decidedBy = json<Principal>(r.decided_by);
  if (r.feedback !== null) a.feedback = r.feedback;
  if (r.action !== null) a.action = r.action;
  if (r.decided_at !== null) a.decidedAt = num(r.decided_at);
  return a;
}

/** Column values of a new (pending) approval. Principals as JSON text: SQLite stores it, PostgreSQL casts it. */
export function approvalValues(a: NewApproval): Record<string, unknown> {
  return {
    id: a.id,
    conversation_id: a.conversationId,
    kind: a.kind,
    status: 'pending',
    plan_id: a.planId ?? null,
    step_id: a.stepId ?? null,
    run_id: a.runId ?? null,
    tool_call_id: a.toolCallId ?? null,
    agent: a.agent,
    tool_name: a.toolName ?? null,
    summary: a.summary,
    arguments: a.arguments === undefined ? null : JSON.stringify(a.arguments),
    requested_by: a.requestedBy ? JSON.stringify(a.requestedBy) : null,
    created_at: a.createdAt,
  };
}

/** `column = <placeholder>` parts and their values for the keys of `patch` found in `columns`. */
export function setClause(patch: object, columns: Record<string, string>, placeholder: (i: number) => string, start = 0): { sql: string[]; values: unknown[] } {
  const sql: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(patch)) {
    const column = columns[key];
    if (!column || value === undefined) continue;
    values.push(value);
    sql.push(`${column} = ${placeholder(start + values.length)}`);
  }
  return { sql, values };
}

/** The parts of a plan patch that are not plain columns: the replan reason (JSON) and the planner's usage. */
export function planExtras(patch: PlanPatch): { column: string; value: unknown }[] {
  const out: { column: string; value: unknown }[] = [];
  if (patch.replan !== undefined) out.push({ column: 'replan', value: patch.replan === null ? null : JSON.stringify(patch.replan) });
  if (patch.usage) {
    out.push({ column: 'prompt_tokens', value: patch.usage.promptTokens });
    out.push({ column: 'completion_tokens', value: patch.usage.completionTokens });
    out.push({ column: 'model_calls', value: patch.usage.modelCalls });
  }
  return out;
}
