import type { PoolClient, QueryResultRow } from 'pg';
import { DuplicateToolResultError, LeaseLostError, NotFoundError } from '../errors.js';
import type { Usage } from '../model/types.js';
import type { Queryable } from './postgres-conversations.js';
import { SQL } from './postgres-sql.js';
import { num, toJson, toMessage, toRun, toStep, type MessageRow, type Num, type RunRow, type StepRow } from './rows.js';
import type { LeaseFence, Message, NewMessage, Run, RunStep, RunStepStatus, RunStepType } from './types.js';

const MESSAGE_COLUMNS = 'id, thread_id, seq, role, author, content, images, tool_calls, tool_call_id, is_error, run_id, created_at';

async function one<R extends QueryResultRow>(q: Queryable, sql: string, params: unknown[]): Promise<R | undefined> {
  return (await q.query<R>(sql, params)).rows[0];
}

async function all<R extends QueryResultRow>(q: Queryable, sql: string, params: unknown[]): Promise<R[]> {
  return (await q.query<R>(sql, params)).rows;
}

/**
 * PostgresStore's writes that must be atomic and ordered across replicas: messages (seq under the
 * thread's row lock), model and tool steps with the message each produced (the run's row lock, and the
 * lease fence checked under it). Locks are always taken thread first, then run.
 */
export class PostgresWrites {
  readonly #transaction: <T>(fn: (client: PoolClient) => Promise<T>) => Promise<T>;
  readonly #clock: () => number;

  constructor(transaction: <T>(fn: (client: PoolClient) => Promise<T>) => Promise<T>, clock: () => number) {
    this.#transaction = transaction;
    this.#clock = clock;
  }

  /** Locks the thread row for the transaction; NotFoundError when it does not exist. */
  async lockThread(client: PoolClient, threadId: string): Promise<void> {
    const row = await one(client, 'SELECT id FROM threads WHERE id = $1 FOR NO KEY UPDATE', [threadId]);
    if (!row) throw new NotFoundError('thread', threadId);
  }

  /**
   * Locks the run row for the transaction; NotFoundError when it does not exist. With a fence, also
   * LeaseLostError when another owner holds the run's lease (the lock keeps it so until commit).
   */
  async lockRun(client: PoolClient, runId: string, fence?: LeaseFence): Promise<void> {
    const row = await one<{ lease_owner: string | null }>(client, 'SELECT lease_owner FROM runs WHERE id = $1 FOR NO KEY UPDATE', [runId]);
    if (!row) throw new NotFoundError('run', runId);
    if (fence?.leaseOwner !== undefined && row.lease_owner !== fence.leaseOwner) throw new LeaseLostError(runId, row.lease_owner);
  }

  /** Inserts messages after the thread's last seq; the caller holds the thread lock. */
  async insertMessages(client: PoolClient, threadId: string, messages: (NewMessage & { id: string })[], now: number): Promise<Message[]> {
    // One result per tool call; the thread lock the caller holds makes the check and the insert one step.
    const calls = new Set<string>();
    let turnInBatch = false;
    for (const m of messages) {
      if (m.role === 'assistant') {
        // A new turn in this batch: results after it answer its calls, not the stored ones.
        turnInBatch = true;
        calls.clear();
      }
      if (m.role !== 'tool' || !m.toolCallId) continue;
      const stored = turnInBatch ? undefined : await one<{ role: string }>(client, SQL.answeredCall, [threadId, m.toolCallId]);
      if (stored?.role === 'tool' || calls.has(m.toolCallId)) throw new DuplicateToolResultError(threadId, m.toolCallId);
      calls.add(m.toolCallId);
    }
    const last = await one<{ seq: Num }>(client, 'SELECT COALESCE(MAX(seq), 0) AS seq FROM messages WHERE thread_id = $1', [threadId]);
    const base = num(last?.seq ?? 0);
    const values: string[] = [];
    const params: unknown[] = [];
    messages.forEach((m, i) => {
      const p = params.length;
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7}::jsonb, $${p + 8}::jsonb, $${p + 9}, $${p + 10}, $${p + 11}, $${p + 12})`);
      params.push(m.id, threadId, base + i + 1, m.role, m.author, m.content, toJson(m.images), toJson(m.toolCalls), m.toolCallId ?? null, m.isError === true, m.runId ?? null, now);
    });
    const rows = await all<MessageRow>(client, `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES ${values.join(', ')} RETURNING *`, params);
    return rows.map(toMessage).sort((a, b) => a.seq - b.seq);
  }

  /** Inserts a step after the run's last seq; the caller holds the run lock. */
  async insertStep(
    client: PoolClient,
    s: { id: string; runId: string; type: RunStepType; status: RunStepStatus; data: Record<string, unknown>; usage: Usage | null; cost: number; endedAt: number | null },
    now: number,
  ): Promise<RunStep> {
    const row = await one<StepRow>(
      client,
      SQL.insertStep,
      [s.id, s.runId, s.type, s.status, JSON.stringify(s.data), s.usage?.promptTokens ?? null, s.usage?.completionTokens ?? null, s.cost, now, s.endedAt],
    );
    return toStep(row!);
  }

  async appendMessages(threadId: string, messages: (NewMessage & { id: string })[]): Promise<Message[]> {
    if (messages.length === 0) return [];
    const now = this.#clock();
    return this.#transaction(async (client) => {
      await this.lockThread(client, threadId);
      return this.insertMessages(client, threadId, messages, now);
    });
  }

  async recordModelStep(
    step: { id: string; runId: string; data: Record<string, unknown>; usage: Usage; cost: number } & LeaseFence,
    message: NewMessage & { id: string; threadId: string },
    opts: { complete?: { endedAt: number } } = {},
  ): Promise<{ step: RunStep; message: Message; run?: Run }> {
    const now = this.#clock();
    const { complete } = opts;
    return this.#transaction(async (client) => {
      await this.lockThread(client, message.threadId);
      await this.lockRun(client, step.runId, step);
      const s = await this.insertStep(
        client,
        { id: step.id, runId: step.runId, type: 'model_call', status: 'completed', data: step.data, usage: step.usage, cost: step.cost, endedAt: now },
        now,
      );
      const [m] = await this.insertMessages(client, message.threadId, [message], now);
      const usage = [step.runId, step.usage.promptTokens, step.usage.completionTokens, step.cost, now];
      if (!complete) {
        await client.query(SQL.addModelUsage, usage);
        return { step: s, message: m! };
      }
      // The final answer: the run completes in the same transaction.
      const row = await one<RunRow>(client, SQL.addModelUsageAndComplete, [...usage, m!.content, complete.endedAt]);
      return { step: s, message: m!, run: toRun(row!) };
    });
  }

  async startToolStep(step: { id: string; runId: string; data: Record<string, unknown> } & LeaseFence): Promise<RunStep> {
    const now = this.#clock();
    return this.#transaction(async (client) => {
      await this.lockRun(client, step.runId, step);
      const s = await this.insertStep(
        client,
        { id: step.id, runId: step.runId, type: 'tool_call', status: 'started', data: step.data, usage: null, cost: 0, endedAt: null },
        now,
      );
      await client.query('UPDATE runs SET progress_at = $2 WHERE id = $1', [step.runId, now]);
      return s;
    });
  }

  async finishToolStep(
    stepId: string,
    status: RunStepStatus,
    message: NewMessage & { id: string; threadId: string },
    fence?: LeaseFence,
  ): Promise<{ step: RunStep; message: Message }> {
    const now = this.#clock();
    return this.#transaction(async (client) => {
      await this.lockThread(client, message.threadId);
      if (fence?.leaseOwner !== undefined && message.runId) await this.lockRun(client, message.runId, fence);
      const row = await one<StepRow>(client, 'UPDATE run_steps SET status = $2, ended_at = $3 WHERE id = $1 RETURNING *', [stepId, status, now]);
      if (!row) throw new NotFoundError('run step', stepId);
      const [m] = await this.insertMessages(client, message.threadId, [message], now);
      await client.query('UPDATE runs SET progress_at = $2 WHERE id = $1', [row.run_id, now]);
      return { step: toStep(row), message: m! };
    });
  }

  async recordToolStep(
    step: { id: string; runId: string; data: Record<string, unknown>; status: RunStepStatus; startedAt: number } & LeaseFence,
    message: NewMessage & { id: string; threadId: string },
  ): Promise<{ step: RunStep; message: Message }> {
    const now = this.#clock();
    return this.#transaction(async (client) => {
      await this.lockThread(client, message.threadId);
      await this.lockRun(client, step.runId, step);
      const s = await this.insertStep(
        client,
        { id: step.id, runId: step.runId, type: 'tool_call', status: step.status, data: step.data, usage: null, cost: 0, endedAt: now },
        step.startedAt,
      );
      const [m] = await this.insertMessages(client, message.threadId, [message], now);
      await client.query('UPDATE runs SET progress_at = $2 WHERE id = $1', [step.runId, now]);
      return { step: s, message: m! };
    });
  }
}
