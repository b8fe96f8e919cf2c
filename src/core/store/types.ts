import type { ToolCall, Usage } from '../model/types.js';
import type { Persistence, PersistenceOptions } from './persistence.js';

/**
 * The Store persists everything the engine knows. It is async so that SQLite (embedded) and
 * PostgreSQL (replicas) fit behind it. Writes that belong together (a model step and the message it
 * produced) go through one call, so a crash never leaves half a step behind.
 */

export interface Principal {
  /** `cli`, `mcp`, `slack`, `teams`, ... */
  surface: string;
  /** User id within the surface. */
  userId: string;
  /** Tenant, workspace or team, when the surface has one. */
  tenant?: string;
  displayName?: string;
}

/** `slack:U123`, `cli:alice`: how approver lists and MCP tokens name a principal. */
export function principalId(p: Principal): string {
  return `${p.surface}:${p.tenant ? p.tenant + ':' : ''}${p.userId}`;
}

/**
 * `private`: only the owner may use it (a DM, an MCP user's, the CLI's). `shared`: everyone the surface
 * admits (a Slack channel thread, a Teams channel thread) — the surface vouches for membership by
 * calling `conversation(key, principal, { access: 'shared' })`, and the core records each participant.
 */
export type ConversationAccess = 'private' | 'shared';

export interface Conversation {
  id: string;
  /** Surface key, unique: `slack:T1:C1:1700000000.000100`, `cli:my-notes`, `mcp:...`. */
  key: string;
  /** Who started it; owner for isolation. */
  owner: Principal;
  title: string | null;
  createdAt: number;
  /** Set when the conversation is created; later calls do not change it. */
  access: ConversationAccess;
}

export interface Thread {
  id: string;
  conversationId: string;
  agent: string;
  createdAt: number;
}

export type MessageRole = 'user' | 'assistant' | 'tool';

export interface Message {
  id: string;
  threadId: string;
  /** Position in the thread, from 1, gapless. */
  seq: number;
  role: MessageRole;
  /** Who wrote it: an agent name for assistant/tool messages, the sender agent or principal id for user messages. */
  author: string;
  content: string;
  images?: string[];
  toolCalls?: ToolCall[];
  toolCallId?: string;
  /** For tool results: the tool failed and the model was told so. */
  isError?: boolean;
  /** The run that wrote it. */
  runId: string | null;
  createdAt: number;
}

export type NewMessage = Omit<Message, 'id' | 'seq' | 'createdAt' | 'threadId'>;

export type RunStatus = 'queued' | 'in_progress' | 'requires_action' | 'completed' | 'failed' | 'cancelled';
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['in_progress', 'requires_action'];
export const FINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

export interface RunUsage extends Usage {
  /** USD, when a price for the model is configured. */
  cost: number;
  modelCalls: number;
}

export interface Run {
  id: string;
  conversationId: string;
  threadId: string;
  agent: string;
  status: RunStatus;
  /** The message that starts the run; appended to the thread when the run starts, so queued messages keep order. */
  input: { content: string; images?: string[]; author: string } | null;
  /** Who asked (for approvals and isolation). */
  requestedBy: Principal | null;
  parentRunId: string | null;
  /** The parent's send_message tool call this run answers. */
  parentToolCallId: string | null;
  depth: number;
  reply: string | null;
  error: string | null;
  usage: RunUsage;
  /** Which process works on it, and until when its claim holds without a heartbeat. */
  leaseOwner: string | null;
  leaseUntil: number | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Last time the run made progress (a step, a delta, a tool); stalled runs are failed from this. */
  progressAt: number;
  /** The key the surface sent it with (a Slack event id, a Teams activity id): unique per store. */
  idempotencyKey: string | null;
  /** The plan this run works for: a step's run, the plan's summary, and their delegations; null otherwise. */
  planId: string | null;
}

export type NewRun = Pick<Run, 'conversationId' | 'threadId' | 'agent' | 'input' | 'requestedBy' | 'parentRunId' | 'parentToolCallId' | 'depth'> & {
  idempotencyKey?: string | null;
  planId?: string | null;
};

export type RunStepType = 'model_call' | 'tool_call';
export type RunStepStatus = 'started' | 'completed' | 'failed' | 'interrupted';

export interface RunStep {
  id: string;
  runId: string;
  seq: number;
  type: RunStepType;
  status: RunStepStatus;
  /** model_call: { model, finishReason, latencyMs }; tool_call: { toolCallId, name, arguments }. */
  data: Record<string, unknown>;
  usage: Usage | null;
  cost: number;
  createdAt: number;
  endedAt: number | null;
}

/** What `claimNextRun` returns: the run, now in_progress, and the input message the claim appended (null when it appended none). */
export interface ClaimedRun {
  run: Run;
  input: Message | null;
}

export interface UsageTotals extends RunUsage {
  /** Grouping key (agent name, model or conversation id). */
  key: string;
}

/**
 * Fencing for step writes. With `leaseOwner`, the write happens only while that owner holds the
 * run's lease; otherwise it throws LeaseLostError and writes nothing. So a loop whose run was taken
 * over (its heartbeat came too late) cannot add a second model turn or tool result to the thread.
 * PostgreSQL checks it under the run's row lock; a store for one process may ignore it.
 */
export interface LeaseFence {
  leaseOwner?: string;
}

export interface Store {
  /** Creates tables and applies migrations; safe to call more than once. */
  init(): Promise<void>;
  close(): Promise<void>;

  // conversations and threads
  /** With `opts` (access, title) applied only when it creates the conversation; the owner becomes its first participant. */
  getOrCreateConversation(key: string, owner: Principal, id: string, opts?: NewConversationOptions): Promise<{ conversation: Conversation; created: boolean }>;
  getConversation(id: string): Promise<Conversation | null>;
  getConversationByKey(key: string): Promise<Conversation | null>;
  listConversations(filter?: { ownerSurface?: string; ownerUserId?: string; limit?: number }): Promise<Conversation[]>;
  getOrCreateThread(conversationId: string, agent: string, id: string): Promise<Thread>;
  /** Records that `principal` took part in the conversation (idempotent; NotFoundError for an unknown conversation). */
  addParticipant(conversationId: string, principal: Principal): Promise<void>;
  /** Everyone recorded as taking part, in the order they joined (the owner first). */
  listParticipants(conversationId: string): Promise<Principal[]>;
  isParticipant(conversationId: string, principal: Principal): Promise<boolean>;
  getThread(id: string): Promise<Thread | null>;
  listThreads(conversationId: string): Promise<Thread[]>;

  // messages: append-only
  /** Appends messages in order (one transaction); assigns seq. Returns them as stored. */
  appendMessages(threadId: string, messages: (NewMessage & { id: string })[]): Promise<Message[]>;
  /** Messages with seq > afterSeq, in order (all when afterSeq is 0). */
  listMessages(threadId: string, opts?: { afterSeq?: number; limit?: number }): Promise<Message[]>;
  /** The most recent `limit` messages, in order. */
  tailMessages(threadId: string, limit: number): Promise<Message[]>;

  // runs
  /**
   * Creates a queued run. With an `idempotencyKey` that a run already has, creates nothing and returns
   * that run instead — enforced by a unique index, so of two processes racing with one key
   * exactly one creates it; IdempotencyConflictError when that run belongs to another conversation.
   */
  createRun(run: NewRun & { id: string }): Promise<Run>;
  getRun(id: string): Promise<Run | null>;
  getRunByIdempotencyKey(key: string): Promise<Run | null>;
  /** Several runs in one round trip (any order; unknown ids are left out). Optional: callers fall back to `getRun`. */
  getRuns?(ids: readonly string[]): Promise<Run[]>;
  listRuns(filter: { conversationId?: string; threadId?: string; statuses?: RunStatus[]; parentRunId?: string; limit?: number }): Promise<Run[]>;
  /** The child run that answers a parent's tool call, if it was already created (makes delegation idempotent on resume). */
  findChildRun(parentRunId: string, parentToolCallId: string): Promise<Run | null>;
  /**
   * Atomically claims the oldest queued run of the thread for `owner`, if no other run of the thread
   * is active (in_progress / requires_action with a live lease). This is the one-active-run rule, and it
   * holds across processes sharing the database.
   *
   * The claim also starts the run, in the same transaction: when the run has an `input` and has never
   * started before (`startedAt` was unset, so nothing of it can be in the thread yet), the input is
   * appended to the thread as a user message (id `inputMessageId`, author `input.author`, runId the
   * run, created at `now`) and returned as `input`. Otherwise `input` is null and `inputMessageId` is
   * unused: a run without input, or one that started before (its executor appends a missing input
   * on resume, as for runs taken over with `adoptRun`). If the append fails, nothing is claimed.
   */
  claimNextRun(threadId: string, owner: string, leaseUntil: number, now: number, inputMessageId: string): Promise<ClaimedRun | null>;
  /** Extends the leases of all runs held by owner. */
  renewLeases(owner: string, leaseUntil: number): Promise<void>;
  /** Runs whose lease expired (their process died): candidates for resumption. */
  listOrphanedRuns(now: number): Promise<Run[]>;
  /**
   * Takes over an active run (in_progress / requires_action) whose lease the caller judged free
   * (expired, or held by a process known to be dead): a compare-and-set on exactly the lease the
   * caller saw. It succeeds only while the run is still active and its lease owner and expiry are
   * still `expected`, and never for a run `owner` already holds (that process is executing it). So of
   * several processes, or several passes of one process, working from the same snapshot, exactly one
   * wins; a stale snapshot (someone adopted, renewed or finished it since) loses.
   */
  adoptRun(runId: string, owner: string, leaseUntil: number, expected: Pick<Run, 'leaseOwner' | 'leaseUntil'>): Promise<boolean>;
  updateRun(id: string, patch: Partial<Pick<Run, 'status' | 'reply' | 'error' | 'startedAt' | 'endedAt' | 'progressAt' | 'leaseOwner' | 'leaseUntil'>>): Promise<Run>;

  // run steps
  /**
   * Records a completed model call and the assistant message it produced in one transaction,
   * adding its usage to the run. With `complete`, the message is the run's final answer and the run
   * ends in the same transaction: status `completed`, `reply` = the message's content, `endedAt`,
   * lease cleared; the ended run is returned as `run` (absent without `complete`).
   */
  recordModelStep(
    step: { id: string; runId: string; data: Record<string, unknown>; usage: Usage; cost: number } & LeaseFence,
    message: NewMessage & { id: string; threadId: string },
    opts?: { complete?: { endedAt: number } },
  ): Promise<{ step: RunStep; message: Message; run?: Run }>;
  /**
   * Marks a tool call as started before it runs, so a crash can tell it was interrupted. Only
   * calls that must not silently run twice need it (non-idempotent tools); see `recordToolStep`.
   */
  startToolStep(step: { id: string; runId: string; data: Record<string, unknown> } & LeaseFence): Promise<RunStep>;
  /** Ends a tool step and appends its result message in one transaction (fenced on `message.runId`). */
  finishToolStep(stepId: string, status: RunStepStatus, message: NewMessage & { id: string; threadId: string }, fence?: LeaseFence): Promise<{ step: RunStep; message: Message }>;
  /**
   * Records a tool call that needed no 'started' marker — an idempotent tool (run again after a
   * crash anyway), or a call that ran nothing (invalid arguments, declined) — once it has its
   * result: the step (created at `startedAt`, ended now, with `status`) and its result message in
   * one transaction. Its step seq is taken when it ends, so parallel calls number in the order they
   * finished.
   */
  recordToolStep(
    step: { id: string; runId: string; data: Record<string, unknown>; status: RunStepStatus; startedAt: number } & LeaseFence,
    message: NewMessage & { id: string; threadId: string },
  ): Promise<{ step: RunStep; message: Message }>;
  listRunSteps(runId: string): Promise<RunStep[]>;

  // usage roll-ups
  usageBy(group: 'agent' | 'model' | 'conversation', filter?: { conversationId?: string }): Promise<UsageTotals[]>;

  /** This store with the stores that live beside it in its database (plans, approvals, refs, events, artifacts); absent for a store that keeps only runs. */
  persistence?(opts?: PersistenceOptions): Promise<Persistence>;
}

export interface NewConversationOptions {
  access?: ConversationAccess;
  title?: string | null;
}
