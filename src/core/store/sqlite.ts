import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { NotFoundError, StoreUnavailableError } from '../errors.js';
import type { Usage } from '../model/types.js';
import { applyMigrations, appliedMigrations, sortMigrations, sqliteMigrations, type SqliteMigration } from './migrations.js';
import { runPatchColumns, toJson, toMessage, toRun, toStep, toTotals } from './rows.js';
import type { MessageRow, RunPatch, RunRow, StepRow, UsageRow } from './rows.js';
import { openSqliteDatabase, type SqliteDriverName, type SqliteStatement } from './sqlite-driver.js';
import { equalities, isForeignKeyError, SqliteConversations } from './sqlite-conversations.js';
import { SQL, type Statements } from './sqlite-sql.js';
import { RidingDatabase } from './sqlite-riders.js';
import { SqliteWrites } from './sqlite-writes.js';
import { sameKeyRun } from './intake-errors.js';
import type { Persistence, PersistenceOptions } from './persistence.js';
import type { ClaimedRun, Conversation, Message, NewConversationOptions, NewMessage, NewRun, Principal, Run, RunStatus, RunStep, RunStepStatus, Store, Thread, UsageTotals } from './types.js';

/**
 * The embedded Store: one SQLite file (WAL) through node:sqlite or better-sqlite3 (sqlite-driver.ts).
 *
 * Both drivers are synchronous, so every method does its work before its promise resolves; the
 * async signatures are there so PostgreSQL fits behind the same interface. Statements are prepared
 * once (in `init`) and reused. Every write that must be atomic across processes runs in a
 * `BEGIN IMMEDIATE` transaction, which takes SQLite's single write lock up front, so several
 * processes (or several connections in one process) can share the file safely.
 *
 * Run claiming: a thread has at most one run in `in_progress` or `requires_action`, whatever its
 * lease. A run whose process died keeps blocking its thread until it is resumed through
 * `listOrphanedRuns` + `adoptRun` (or ended with `updateRun`); a `requires_action` run waiting on a
 * person blocks its thread for as long as it waits.
 */

export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. The parent directory of a file is created when missing. */
  path: string;
  /** Milliseconds since the epoch; `Date.now` unless a test injects one. */
  clock?: () => number;
  /** Migrations of other modules (plans, approvals), applied by `init` together with the core ones. */
  extraMigrations?: readonly SqliteMigration[];
  /** Forces a SQLite driver; by default SWITCHBOARD_SQLITE_DRIVER, else the first usable (sqlite-driver.ts). */
  driver?: SqliteDriverName;
}

type Stmt = SqliteStatement;


export class SqliteStore implements Store {
  /** The connection, for modules (plans, approvals) that keep their tables in the same file; its
   * transactions take waiting event appends along, and its `write`s share a commit per turn (sqlite-riders.ts). */
  readonly db: RidingDatabase;
  readonly path: string;
  /** The store's clock, for the stores beside it (refs). */
  readonly clock: () => number;
  private readonly migrations: SqliteMigration[];
  private stmts: Statements | null = null;
  /** Statements built from a filter's shape (listRuns, updateRun, usageBy). */
  private readonly dynamic = new Map<string, Stmt>();
  private readonly conversations: SqliteConversations;
  /** The transactions that write messages and steps (sqlite-writes.ts). */
  private readonly writes: SqliteWrites;

  constructor(opts: SqliteStoreOptions) {
    const memory = opts.path === ':memory:' || opts.path === '';
    this.path = memory ? ':memory:' : resolve(opts.path);
    if (!memory) mkdirSync(dirname(this.path), { recursive: true });
    this.clock = opts.clock ?? Date.now;
    this.migrations = sortMigrations([...sqliteMigrations, ...(opts.extraMigrations ?? [])]);

    this.db = new RidingDatabase(openSqliteDatabase(this.path, { busyTimeoutMs: 5000, driver: opts.driver }));
    this.conversations = new SqliteConversations(this.db, this.clock);
    if (!memory) this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.writes = new SqliteWrites(this.db, () => this.s);
  }

  private get s(): Statements {
    if (!this.stmts) throw new StoreUnavailableError('sqlite', 'SqliteStore: call init() before using the store (createSwitchboard does it; a store opened by hand needs it).');
    return this.stmts;
  }

  private cached(sql: string): Stmt {
    let stmt = this.dynamic.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.dynamic.set(sql, stmt);
    }
    return stmt;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async init(): Promise<void> {
    this.initSync();
  }

  /** Synchronous `init`, for callers that need the schema before their first await. */
  initSync(): void {
    applyMigrations(this.db, this.migrations, this.clock);
    if (this.stmts) return;
    const stmts = {} as Statements;
    for (const key of Object.keys(SQL) as (keyof typeof SQL)[]) stmts[key] = this.db.prepare(SQL[key]);
    this.stmts = stmts;
  }

  /** Applies further migrations (e.g. the plans module's tables) on this connection; idempotent. */
  migrate(migrations: readonly SqliteMigration[]): number[] {
    return applyMigrations(this.db, migrations, this.clock);
  }

  /** Versions recorded in `schema_migrations`. */
  schemaVersions(): { version: number; name: string; appliedAt: number }[] {
    return appliedMigrations(this.db);
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction on this connection (nested calls become savepoints), with
   * the group commit's queued writes before it. `fn` must be synchronous: inside a transaction the
   * store's own methods do their work at once (not queued), so calling them inside `fn` (without
   * awaiting across statements) keeps them in the transaction.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  /** This store with its plans, approvals, surface references, events and artifacts, in the same file. */
  async persistence(opts?: PersistenceOptions): Promise<Persistence> {
    const { sqlitePersistence } = await import('./sqlite-persistence.js');
    return sqlitePersistence(this, opts);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
    this.stmts = null;
    this.dynamic.clear();
    this.conversations.clear();
  }

  // ---- conversations and threads --------------------------------------------------------------

  async getOrCreateConversation(key: string, owner: Principal, id: string, opts?: NewConversationOptions): Promise<{ conversation: Conversation; created: boolean }> {
    return this.conversations.getOrCreate(key, owner, id, opts);
  }

  async getConversation(id: string): Promise<Conversation | null> {
    return this.conversations.get(id);
  }

  async getConversationByKey(key: string): Promise<Conversation | null> {
    return this.conversations.getByKey(key);
  }

  async listConversations(filter?: { ownerSurface?: string; ownerUserId?: string; limit?: number }): Promise<Conversation[]> {
    return this.conversations.list(filter);
  }

  async addParticipant(conversationId: string, principal: Principal): Promise<void> {
    this.conversations.addParticipant(conversationId, principal);
  }

  async listParticipants(conversationId: string): Promise<Principal[]> {
    return this.conversations.participants(conversationId);
  }

  async isParticipant(conversationId: string, principal: Principal): Promise<boolean> {
    return this.conversations.isParticipant(conversationId, principal);
  }

  async getOrCreateThread(conversationId: string, agent: string, id: string): Promise<Thread> {
    return this.conversations.getOrCreateThread(conversationId, agent, id);
  }

  async getThread(id: string): Promise<Thread | null> {
    return this.conversations.getThread(id);
  }

  async listThreads(conversationId: string): Promise<Thread[]> {
    return this.conversations.listThreads(conversationId);
  }

  // ---- messages ---------------------------------------------------------------------------------

  async appendMessages(threadId: string, messages: (NewMessage & { id: string })[]): Promise<Message[]> {
    if (messages.length === 0) return [];
    return this.writes.append(threadId, messages, this.clock());
  }

  async listMessages(threadId: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<Message[]> {
    const rows = this.s.listMessages.all(threadId, opts.afterSeq ?? 0, opts.limit ?? -1) as unknown as MessageRow[];
    return rows.map(toMessage);
  }

  async tailMessages(threadId: string, limit: number): Promise<Message[]> {
    if (limit <= 0) return [];
    return (this.s.tailMessages.all(threadId, limit) as unknown as MessageRow[]).reverse().map(toMessage);
  }

  // ---- runs -------------------------------------------------------------------------------------

  async createRun(run: NewRun & { id: string }): Promise<Run> {
    try {
      // A write of the group commit, which events describing the new run ride (sqlite-riders.ts).
      return await this.db.write(() => this.#insertRun(run));
    } catch (err) {
      if (isForeignKeyError(err)) {
        if (!this.conversations.get(run.conversationId)) throw new NotFoundError('conversation', run.conversationId);
        throw new NotFoundError('thread', run.threadId);
      }
      throw err;
    }
  }

  #insertRun(run: NewRun & { id: string }): Run {
    const row = this.s.insertRun.get({
      id: run.id,
      conversationId: run.conversationId,
      threadId: run.threadId,
      agent: run.agent,
      input: toJson(run.input),
      requestedBy: toJson(run.requestedBy),
      parentRunId: run.parentRunId ?? null,
      parentToolCallId: run.parentToolCallId ?? null,
      depth: run.depth ?? 0,
      now: this.clock(),
      idempotencyKey: run.idempotencyKey ?? null,
      planId: run.planId ?? null,
    }) as unknown as RunRow | undefined;
    if (row) return toRun(row);
    // Only a taken idempotency key inserts nothing.
    return sameKeyRun(toRun(this.s.runByKey.get(run.idempotencyKey!) as unknown as RunRow), run.idempotencyKey!, run.conversationId);
  }

  async getRun(id: string): Promise<Run | null> {
    const row = this.s.runById.get(id) as unknown as RunRow | undefined;
    return row ? toRun(row) : null;
  }

  async getRunByIdempotencyKey(key: string): Promise<Run | null> {
    const row = this.s.runByKey.get(key) as unknown as RunRow | undefined;
    return row ? toRun(row) : null;
  }

  /** Oldest first (by created_at, then id). */
  async listRuns(filter: { conversationId?: string; threadId?: string; statuses?: RunStatus[]; parentRunId?: string; limit?: number }): Promise<Run[]> {
    const { where, params } = equalities([
      ['conversation_id', filter.conversationId],
      ['thread_id', filter.threadId],
      ['parent_run_id', filter.parentRunId],
    ]);
    if (filter.statuses !== undefined) {
      if (filter.statuses.length === 0) return [];
      where.push(`status IN (${filter.statuses.map(() => '?').join(', ')})`);
      params.push(...filter.statuses);
    }
    const sql = `SELECT * FROM runs${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id LIMIT ?`;
    params.push(filter.limit ?? -1);
    return (this.cached(sql).all(...params) as unknown as RunRow[]).map(toRun);
  }

  async findChildRun(parentRunId: string, parentToolCallId: string): Promise<Run | null> {
    const row = this.s.childRun.get(parentRunId, parentToolCallId) as unknown as RunRow | undefined;
    return row ? toRun(row) : null;
  }

  /**
   * Claims the oldest queued run of the thread, unless any run of the thread is in_progress or
   * requires_action (live lease or not: an orphan is resumed with adoptRun before the queue moves).
   */
  async claimNextRun(threadId: string, owner: string, leaseUntil: number, now: number, inputMessageId: string): Promise<ClaimedRun | null> {
    // Nothing to claim is known without a write, unless queued writes (a new run) may add something.
    if (!this.db.queued && !(this.s.claimable.get({ threadId }) as { ok: number } | undefined)?.ok) return null;
    return this.writes.claim(threadId, owner, leaseUntil, now, inputMessageId);
  }

  async renewLeases(owner: string, leaseUntil: number): Promise<void> {
    this.s.renewLeases.run(leaseUntil, owner);
  }

  /**
   * In-progress runs whose lease expired (or was never set), then every queued run, oldest first:
   * what a (re)started process should look at. Queued runs are included so queued work is picked
   * up after a restart; claimNextRun still refuses them while their thread has an active run.
   * requires_action runs are not listed: they wait on a person, not on a process.
   */
  async listOrphanedRuns(now: number): Promise<Run[]> {
    return (this.s.orphanedRuns.all({ now }) as unknown as RunRow[]).map(toRun);
  }

  /** Compare-and-set on the lease the caller saw; see Store.adoptRun. True when this owner now holds it. */
  async adoptRun(runId: string, owner: string, leaseUntil: number, expected: Pick<Run, 'leaseOwner' | 'leaseUntil'>): Promise<boolean> {
    return this.s.adoptRun.run({ id: runId, owner, leaseUntil, expectedOwner: expected.leaseOwner, expectedUntil: expected.leaseUntil }).changes > 0;
  }

  async updateRun(id: string, patch: RunPatch): Promise<Run> {
    const sets = runPatchColumns(patch);
    if (sets.length === 0) {
      const run = await this.getRun(id);
      if (!run) throw new NotFoundError('run', id);
      return run;
    }
    const sql = `UPDATE runs SET ${sets.map((s) => `${s.column} = ?`).join(', ')} WHERE id = ? RETURNING *`;
    // A write of the group commit, which events describing the change ride (a run's end, its cancel):
    // they are built from what the write returns, so it returns the run.
    return this.db.write(() => {
      const row = this.cached(sql).get(...sets.map((s) => s.value), id) as unknown as RunRow | undefined;
      if (!row) throw new NotFoundError('run', id);
      return toRun(row);
    });
  }

  // ---- run steps --------------------------------------------------------------------------------

  async recordModelStep(
    step: { id: string; runId: string; data: Record<string, unknown>; usage: Usage; cost: number },
    message: NewMessage & { id: string; threadId: string },
    opts: { complete?: { endedAt: number } } = {},
  ): Promise<{ step: RunStep; message: Message; run?: Run }> {
    return this.writes.modelStep(step, message, opts.complete, this.clock());
  }

  async startToolStep(step: { id: string; runId: string; data: Record<string, unknown> }): Promise<RunStep> {
    try {
      return await this.writes.startStep(step, this.clock());
    } catch (err) {
      if (isForeignKeyError(err)) throw new NotFoundError('run', step.runId);
      throw err;
    }
  }

  async finishToolStep(stepId: string, status: RunStepStatus, message: NewMessage & { id: string; threadId: string }): Promise<{ step: RunStep; message: Message }> {
    return this.writes.finishStep(stepId, status, message, this.clock());
  }

  async recordToolStep(
    step: { id: string; runId: string; data: Record<string, unknown>; status: RunStepStatus; startedAt: number },
    message: NewMessage & { id: string; threadId: string },
  ): Promise<{ step: RunStep; message: Message }> {
    try {
      return await this.writes.toolStep(step, message, this.clock());
    } catch (err) {
      // The message's own foreign key failure is reported as its thread by insertMessage.
      if (isForeignKeyError(err)) throw new NotFoundError('run', step.runId);
      throw err;
    }
  }

  async listRunSteps(runId: string): Promise<RunStep[]> {
    return (this.s.stepsOfRun.all(runId) as unknown as StepRow[]).map(toStep);
  }

  // ---- usage ------------------------------------------------------------------------------------

  /** Sorted by key. 'agent' and 'conversation' sum the runs; 'model' sums model_call steps by data.model. */
  async usageBy(group: 'agent' | 'model' | 'conversation', filter: { conversationId?: string } = {}): Promise<UsageTotals[]> {
    const conv = filter.conversationId;
    let sql: string;
    if (group === 'model') {
      sql = `SELECT COALESCE(json_extract(s.data, '$.model'), 'unknown') AS key,
          SUM(s.prompt_tokens) AS prompt_tokens, SUM(s.completion_tokens) AS completion_tokens,
          SUM(s.cost) AS cost, COUNT(*) AS model_calls
        FROM run_steps s${conv !== undefined ? ' JOIN runs r ON r.id = s.run_id' : ''}
        WHERE s.type = 'model_call'${conv !== undefined ? ' AND r.conversation_id = ?' : ''}
        GROUP BY 1 ORDER BY 1`;
    } else {
      const column = group === 'agent' ? 'agent' : 'conversation_id';
      sql = `SELECT ${column} AS key, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
          SUM(cost) AS cost, SUM(model_calls) AS model_calls
        FROM runs${conv !== undefined ? ' WHERE conversation_id = ?' : ''}
        GROUP BY 1 ORDER BY 1`;
    }
    const rows = this.cached(sql).all(...(conv !== undefined ? [conv] : [])) as unknown as UsageRow[];
    return rows.map(toTotals);
  }
}
