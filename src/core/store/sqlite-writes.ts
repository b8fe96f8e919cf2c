import { DuplicateToolResultError, NotFoundError } from '../errors.js';
import type { Usage } from '../model/types.js';
import { toJson, toMessage, toRun, toStep, type MessageRow, type RunRow, type StepRow } from './rows.js';
import { isForeignKeyError } from './sqlite-conversations.js';
import type { RidingDatabase } from './sqlite-riders.js';
import type { Statements } from './sqlite-sql.js';
import type { ClaimedRun, Message, NewMessage, Run, RunStep, RunStepStatus } from './types.js';

type NewMessageIn = NewMessage & { id: string; threadId: string };

/**
 * SqliteStore's writes that must be atomic: messages with their seq, a model or tool step with the
 * message it produced, a claim with the input message it appends. Each is one savepoint of an IMMEDIATE
 * transaction (shared with the other writes of the same turn: group commit), which takes SQLite's
 * write lock up front, so processes sharing the file never interleave them.
 */
export class SqliteWrites {
  readonly #db: RidingDatabase;
  readonly #s: () => Statements;

  constructor(db: RidingDatabase, statements: () => Statements) {
    this.#db = db;
    this.#s = statements;
  }

  /** `fn` as a write of the next group commit (sqlite-riders.ts): resolves once it is committed. */
  #immediate<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Promise<R> {
    return (...args: A) => this.#db.write(() => fn(...args));
  }

  insertMessage(threadId: string, m: NewMessage & { id: string }, now: number): Message {
    if (m.role === 'tool' && m.toolCallId && (this.#s().answeredCall.get(threadId, m.toolCallId) as { role: string } | undefined)?.role === 'tool') {
      throw new DuplicateToolResultError(threadId, m.toolCallId);
    }
    try {
      const row = this.#s().insertMessage.get({
        id: m.id,
        threadId,
        role: m.role,
        author: m.author,
        content: m.content,
        images: toJson(m.images),
        toolCalls: toJson(m.toolCalls),
        toolCallId: m.toolCallId ?? null,
        isError: m.isError ? 1 : 0,
        runId: m.runId ?? null,
        now,
      }) as unknown as MessageRow;
      return toMessage(row);
    } catch (err) {
      if (isForeignKeyError(err)) throw new NotFoundError('thread', threadId);
      throw err;
    }
  }

  readonly append = this.#immediate((threadId: string, messages: (NewMessage & { id: string })[], now: number): Message[] => messages.map((m) => this.insertMessage(threadId, m, now)));

  readonly modelStep = this.#immediate(
    (
      step: { id: string; runId: string; data: Record<string, unknown>; usage: Usage; cost: number },
      message: NewMessageIn,
      complete: { endedAt: number } | undefined,
      now: number,
    ): { step: RunStep; message: Message; run?: Run } => {
    const s = this.#s().insertStep.get({
      id: step.id,
      runId: step.runId,
      type: 'model_call',
      status: 'completed',
      data: JSON.stringify(step.data),
      promptTokens: step.usage.promptTokens,
      completionTokens: step.usage.completionTokens,
      cost: step.cost,
      now,
      endedAt: now,
    }) as unknown as StepRow;
    const m = this.insertMessage(message.threadId, message, now);
    const usage = { runId: step.runId, promptTokens: step.usage.promptTokens, completionTokens: step.usage.completionTokens, cost: step.cost, now };
    if (!complete) {
      this.#s().addModelUsage.run(usage);
      return { step: toStep(s), message: m };
    }
    const r = this.#s().addModelUsageAndComplete.get({ ...usage, reply: m.content, endedAt: complete.endedAt }) as unknown as RunRow | undefined;
    if (!r) throw new NotFoundError('run', step.runId);
    return { step: toStep(s), message: m, run: toRun(r) };
  });

  readonly startStep = this.#immediate((step: { id: string; runId: string; data: Record<string, unknown> }, now: number): RunStep => {
    const s = this.#s().insertStep.get({
      id: step.id,
      runId: step.runId,
      type: 'tool_call',
      status: 'started',
      data: JSON.stringify(step.data),
      promptTokens: null,
      completionTokens: null,
      cost: 0,
      now,
      endedAt: null,
    }) as unknown as StepRow;
    this.#s().touchRun.run(now, step.runId);
    return toStep(s);
  });

  readonly finishStep = this.#immediate((stepId: string, status: RunStepStatus, message: NewMessageIn, now: number): { step: RunStep; message: Message } => {
    const s = this.#s().finishStep.get(status, now, stepId) as unknown as StepRow | undefined;
    if (!s) throw new NotFoundError('run step', stepId);
    const m = this.insertMessage(message.threadId, message, now);
    this.#s().touchRun.run(now, s.run_id);
    return { step: toStep(s), message: m };
  });

  readonly toolStep = this.#immediate(
    (
      step: { id: string; runId: string; data: Record<string, unknown>; status: RunStepStatus; startedAt: number },
      message: NewMessageIn,
      now: number,
    ): { step: RunStep; message: Message } => {
    const s = this.#s().insertStep.get({
      id: step.id,
      runId: step.runId,
      type: 'tool_call',
      status: step.status,
      data: JSON.stringify(step.data),
      promptTokens: null,
      completionTokens: null,
      cost: 0,
      now: step.startedAt,
      endedAt: now,
    }) as unknown as StepRow;
    const m = this.insertMessage(message.threadId, message, now);
    this.#s().touchRun.run(now, step.runId);
    return { step: toStep(s), message: m };
  });

  readonly claim = this.#immediate((threadId: string, owner: string, leaseUntil: number, now: number, inputMessageId: string): ClaimedRun | null => {
    const next = this.#s().claimCandidate.get({ threadId }) as { id: string; fresh: number } | undefined;
    if (!next) return null;
    const run = toRun(this.#s().claimRun.get({ id: next.id, owner, leaseUntil, now }) as unknown as RunRow);
    if (!next.fresh || !run.input) return { run, input: null };
    const { content, images, author } = run.input;
    const input = this.insertMessage(threadId, { id: inputMessageId, role: 'user', author, content, images, runId: run.id }, now);
    return { run, input };
  });
}
