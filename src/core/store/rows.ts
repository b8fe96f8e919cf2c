import type { ToolCall } from '../model/types.js';
import type { Conversation, Message, MessageRole, Principal, Run, RunStatus, RunStep, RunStepStatus, RunStepType, Store, Thread, UsageTotals } from './types.js';

/**
 * Rows of the core tables (conversations, threads, messages, runs, run_steps) and their mapping to
 * the Store's types, shared by the SQLite and PostgreSQL stores.
 *
 * The drivers hand the same columns back in different clothes, and the mappers accept both:
 * - numbers: better-sqlite3 gives numbers; pg gives BIGINT and NUMERIC (SUM, COUNT) as strings;
 * - JSON: SQLite keeps it as text; pg parses JSONB. Every JSON column holds an object or an array,
 *   never a bare string, so a string is always text still to parse;
 * - booleans: SQLite stores 0/1; PostgreSQL has BOOLEAN.
 */

/** A number as a driver returns it. */
export type Num = number | string;
/** A JSON column: text (SQLite) or already parsed (PostgreSQL JSONB). */
export type Json<T> = T | string;

export interface ConversationRow {
  id: string;
  key: string;
  owner: Json<Principal>;
  title: string | null;
  created_at: Num;
  access: string;
}

export interface ThreadRow {
  id: string;
  conversation_id: string;
  agent: string;
  created_at: Num;
}

export interface MessageRow {
  id: string;
  thread_id: string;
  seq: Num;
  role: string;
  author: string;
  content: string;
  images: Json<string[]> | null;
  tool_calls: Json<ToolCall[]> | null;
  tool_call_id: string | null;
  is_error: boolean | number;
  run_id: string | null;
  created_at: Num;
}

export interface RunRow {
  id: string;
  conversation_id: string;
  thread_id: string;
  agent: string;
  status: string;
  input: Json<NonNullable<Run['input']>> | null;
  requested_by: Json<Principal> | null;
  parent_run_id: string | null;
  parent_tool_call_id: string | null;
  depth: Num;
  reply: string | null;
  error: string | null;
  prompt_tokens: Num;
  completion_tokens: Num;
  cost: Num;
  model_calls: Num;
  lease_owner: string | null;
  lease_until: Num | null;
  created_at: Num;
  started_at: Num | null;
  ended_at: Num | null;
  progress_at: Num;
  idempotency_key: string | null;
  plan_id: string | null;
}

export interface StepRow {
  id: string;
  run_id: string;
  seq: Num;
  type: string;
  status: string;
  data: Json<Record<string, unknown>>;
  prompt_tokens: Num | null;
  completion_tokens: Num | null;
  cost: Num;
  created_at: Num;
  ended_at: Num | null;
}

/** A `usageBy` row: sums are NULL when nothing matched a group's column. */
export interface UsageRow {
  key: string;
  prompt_tokens: Num | null;
  completion_tokens: Num | null;
  cost: Num | null;
  model_calls: Num | null;
}

/** The statuses of an active run, as an SQL list. */
export const ACTIVE_SQL = "('in_progress', 'requires_action')";

export type RunPatch = Parameters<Store['updateRun']>[1];

/** Maps `updateRun` patch keys to columns; also the whitelist of what a patch may change. */
const RUN_PATCH_COLUMNS: Record<keyof RunPatch, string> = {
  status: 'status',
  reply: 'reply',
  error: 'error',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  progressAt: 'progress_at',
  leaseOwner: 'lease_owner',
  leaseUntil: 'lease_until',
};

/** The columns an `updateRun` patch sets and their values, in a fixed order; undefined keys are left out. */
export function runPatchColumns(patch: RunPatch): { column: string; value: unknown }[] {
  const out: { column: string; value: unknown }[] = [];
  for (const [key, column] of Object.entries(RUN_PATCH_COLUMNS) as [keyof RunPatch, string][]) {
    const value = patch[key];
    if (value !== undefined) out.push({ column, value });
  }
  return out;
}

export function num(v: Num): number {
  return typeof v === 'number' ? v : Number(v);
}

export function numOrNull(v: Num | null): number | null {
  return v === null ? null : num(v);
}

function parsed<T>(v: Json<T>): T {
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}

function parsedOrNull<T>(v: Json<T> | null): T | null {
  return v === null ? null : parsed(v);
}

/** A JSON parameter as text: SQLite stores it, PostgreSQL casts it (pg would turn a JS array into a PostgreSQL array). */
export function toJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export function toConversation(r: ConversationRow): Conversation {
  return { id: r.id, key: r.key, owner: parsed(r.owner), title: r.title, createdAt: num(r.created_at), access: r.access === 'shared' ? 'shared' : 'private' };
}

export function toThread(r: ThreadRow): Thread {
  return { id: r.id, conversationId: r.conversation_id, agent: r.agent, createdAt: num(r.created_at) };
}

export function toMessage(r: MessageRow): Message {
  const m: Message = {
    id: r.id,
    threadId: r.thread_id,
    seq: num(r.seq),
    role: r.role as MessageRole,
    author: r.author,
    content: r.content,
    runId: r.run_id,
    createdAt: num(r.created_at),
  };
  if (r.images !== null) m.images = parsed(r.images);
  if (r.tool_calls !== null) m.toolCalls = parsed(r.tool_calls);
  if (r.tool_call_id !== null) m.toolCallId = r.tool_call_id;
  if (r.is_error) m.isError = true;
  return m;
}

export function toRun(r: RunRow): Run {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    threadId: r.thread_id,
    agent: r.agent,
    status: r.status as RunStatus,
    input: parsedOrNull(r.input),
    requestedBy: parsedOrNull(r.requested_by),
    parentRunId: r.parent_run_id,
    parentToolCallId: r.parent_tool_call_id,
    depth: num(r.depth),
    reply: r.reply,
    error: r.error,
    usage: { promptTokens: num(r.prompt_tokens), completionTokens: num(r.completion_tokens), cost: num(r.cost), modelCalls: num(r.model_calls) },
    leaseOwner: r.lease_owner,
    leaseUntil: numOrNull(r.lease_until),
    createdAt: num(r.created_at),
    startedAt: numOrNull(r.started_at),
    endedAt: numOrNull(r.ended_at),
    progressAt: num(r.progress_at),
    idempotencyKey: r.idempotency_key ?? null,
    planId: r.plan_id ?? null,
  };
}

export function toStep(r: StepRow): RunStep {
  return {
    id: r.id,
    runId: r.run_id,
    seq: num(r.seq),
    type: r.type as RunStepType,
    status: r.status as RunStepStatus,
    data: parsed(r.data),
    usage: r.prompt_tokens === null ? null : { promptTokens: num(r.prompt_tokens), completionTokens: numOrNull(r.completion_tokens) ?? 0 },
    cost: num(r.cost),
    createdAt: num(r.created_at),
    endedAt: numOrNull(r.ended_at),
  };
}

export function toTotals(r: UsageRow): UsageTotals {
  return {
    key: r.key,
    promptTokens: numOrNull(r.prompt_tokens) ?? 0,
    completionTokens: numOrNull(r.completion_tokens) ?? 0,
    cost: numOrNull(r.cost) ?? 0,
    modelCalls: numOrNull(r.model_calls) ?? 0,
  };
}
