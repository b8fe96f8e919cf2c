import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { ConfigError, InternalError, NotFoundError } from '../errors.js';
import { sortMigrations } from './migrations.js';
import { applyPgMigrations, postgresMigrations, type PgMigration } from './postgres-migrations.js';
import { SQL, usageSql } from './postgres-sql.js';
import { ACTIVE_SQL, num, runPatchColumns, toJson, toMessage, toRun, toStep, toTotals } from './rows.js';
import type { MessageRow, Num, RunPatch, RunRow, StepRow, UsageRow } from './rows.js';
import { sameKeyRun } from './intake-errors.js';
import type { Persistence, PersistenceOptions } from './persistence.js';
import { isForeignKeyError, PostgresConversations, type Queryable } from './postgres-conversations.js';
import { PostgresWrites } from './postgres-writes.js';
import type { ClaimedRun, Conversation, Message, NewConversationOptions, NewMessage, NewRun, Principal, Run } from './types.js';
import type { RunStatus, RunStep, Store, Thread, UsageTotals } from './types.js';

/**
 * The scale-out Store: PostgreSQL through `pg`, for several replicas sharing one database.
 *
 * Every write that must be atomic runs in one transaction on one pooled connection. Ordering that
 * must hold across replicas is serialised with row locks, always taken in the order thread, then
 * run, so two transactions never wait on each other in a circle:
 *
 * - message seq: the thread row is locked (`FOR NO KEY UPDATE`, which serialises writers exactly like
 *   `FOR UPDATE` but does not block inserts that merely reference the thread), then `max(seq) + 1`;
 * - run step seq: the run row is locked the same way, then `max(seq) + 1`;
 * - claiming: the thread row is locked, so only one replica at a time decides whether the thread
 *   has an active run and which queued run starts next.
 *
 * Run claiming follows the SQLite store: a thread has at most one run in `in_progress` or
 * `requires_action`, whatever its lease. A run whose process died keeps blocking its thread until it
 * is resumed through `listOrphanedRuns` + `adoptRun` (or ended with `updateRun`).
 *
 * Timestamps are BIGINT milliseconds from `clock()`; JSON columns are JSONB. pg hands BIGINT and
 * NUMERIC back as strings: the row mappers turn them into numbers (no global type parser is set).
 */

export { postgresMigrations, type PgMigration } from './postgres-migrations.js';

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:5432/db` */
  url: string;
  /** Milliseconds since the epoch; `Date.now` unless a test injects one. */
  clock?: () => number;
  /**
   * Schema holding the tables (created by `init` when missing). Default `public`, which keeps the
   * server's own search_path; any other schema is put first on every connection's search_path.
   */
  schema?: string;
  pool?: { max?: number };
  /** Migrations of other modules (plans, approvals), applied by `init` together with the core ones. */
  extraMigrations?: readonly PgMigration[];
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export class PostgresStore implements Store {
  /** The pool, for modules (plans, approvals) that keep their tables in the same database and schema. */
  readonly pool: pg.Pool;
  readonly schema: string;
  /** The store's clock, for the stores beside it (refs). */
  readonly clock: () => number;
  private readonly migrations: PgMigration[];
  private readonly conversations: PostgresConversations;
  /** The transactions that write messages and steps under row locks (postgres-writes.ts). */
  private readonly writes: PostgresWrites;
  private closed = false;

  constructor(opts: PostgresStoreOptions) {
    const schema = opts.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new ConfigError(`PostgresStore: schema "${schema}" must be a plain identifier (${SCHEMA_NAME.source}).`);
    this.schema = schema;
    this.clock = opts.clock ?? Date.now;
    this.migrations = sortMigrations([...postgresMigrations, ...(opts.extraMigrations ?? [])]);
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.pool?.max ?? 10,
      application_name: 'switchboard',
      // The schema name is a plain identifier (checked above), so it needs no quoting here.
      ...(schema === 'public' ? {} : { options: `-c search_path=${schema}` }),
    });
    // A pooled connection that dies while idle must not crash the process; the next query reconnects.
    this.pool.on('error', () => {});
    this.conversations = new PostgresConversations(this.pool, this.clock);
    this.writes = new PostgresWrites((fn) => this.transaction(fn), this.clock);
  }

  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      // A connection that could not roll back is discarded rather than returned to the pool.
      client.release(broken);
    }
  }

  private async one<R extends QueryResultRow>(q: Queryable, sql: string, params: unknown[]): Promise<R | undefined> {
    return (await q.query<R>(sql, params)).rows[0];
  }

  private async all<R extends QueryResultRow>(q: Queryable, sql: string, params: unknown[]): Promise<R[]> {
    return (await q.query<R>(sql, params)).rows;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async init(): Promise<void> {
    await this.migrate([]);
  }

  /**
   * Applies the store's migrations plus `extra` that are not yet recorded in
   * `switchboard_migrations`, in one transaction under an advisory lock (so replicas starting
   * together apply each exactly once). Creates the schema when missing. Returns the versions applied.
   */
  async migrate(extra: readonly PgMigration[]): Promise<number[]> {
    const byVersion = new Map(this.migrations.map((m) => [m.version, m]));
    for (const m of extra) {
      const known = byVersion.get(m.version);
      if (known && known.name !== m.name) throw new InternalError(`Migration ${m.version} "${m.name}" clashes with the migration "${known.name}".`);
      byVersion.set(m.version, m);
    }
    const sorted = sortMigrations([...byVersion.values()]);
    return this.transaction((client) => applyPgMigrations(client, this.schema, sorted, this.clock));
  }

  /** Versions recorded in `switchboard_migrations`, ascending. */
  async schemaVersions(): Promise<{ version: number; name: string; appliedAt: number }[]> {
    const rows = await this.all<{ version: number; name: string; applied_at: Num }>(
      this.pool,
      `SELECT version, name, applied_at FROM "${this.schema}".switchboard_migrations ORDER BY version`,
      [],
    );
    return rows.map((r) => ({ version: r.version, name: r.name, appliedAt: num(r.applied_at) }));
  }

  /** This store with its plans, approvals, surface references, events and artifacts, in the same database and schema. */
  async persistence(opts?: PersistenceOptions): Promise<Persistence> {
    const { postgresPersistence } = await import('./postgres-persistence.js');
    return postgresPersistence(this, opts);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
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
    return this.conversations.addParticipant(conversationId, principal);
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
    return this.writes.appendMessages(threadId, messages);
  }

  async listMessages(threadId: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<Message[]> {
    const rows = await this.all<MessageRow>(this.pool, 'SELECT * FROM messages WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [
      threadId,
      opts.afterSeq ?? 0,
      opts.limit ?? null,
    ]);
    return rows.map(toMessage);
  }

  async tailMessages(threadId: string, limit: number): Promise<Message[]> {
    if (limit <= 0) return [];
    const rows = await this.all<MessageRow>(
      this.pool,
      'SELECT * FROM (SELECT * FROM messages WHERE thread_id = $1 ORDER BY seq DESC LIMIT $2) AS tail ORDER BY seq',
      [threadId, limit],
    );
    return rows.map(toMessage);
  }

  // ---- runs -------------------------------------------------------------------------------------

  async createRun(run: NewRun & { id: string }): Promise<Run> {
    const now = this.clock();
    try {
      const row = await this.one<RunRow>(
        this.pool,
        SQL.insertRun,
        [run.id, run.conversationId, run.threadId, run.agent, toJson(run.input), toJson(run.requestedBy), run.parentRunId ?? null, run.parentToolCallId ?? null, run.depth ?? 0, now, run.idempotencyKey ?? null, run.planId ?? null],
      );
      if (row) return toRun(row);
      // Only a taken idempotency key inserts nothing; the run that took it committed before the conflict was reported.
      const existing = await this.getRunByIdempotencyKey(run.idempotencyKey!);
      return sameKeyRun(existing!, run.idempotencyKey!, run.conversationId);
    } catch (err) {
      if (isForeignKeyError(err)) {
        if (!(await this.getConversation(run.conversationId))) throw new NotFoundError('conversation', run.conversationId);
        throw new NotFoundError('thread', run.threadId);
      }
      throw err;
    }
  }

  async getRun(id: string): Promise<Run | null> {
    const row = await this.one<RunRow>(this.pool, 'SELECT * FROM runs WHERE id = $1', [id]);
    return row ? toRun(row) : null;
  }

  async getRunByIdempotencyKey(key: string): Promise<Run | null> {
    const row = await this.one<RunRow>(this.pool, 'SELECT * FROM runs WHERE idempotency_key = $1', [key]);
    return row ? toRun(row) : null;
  }

  async getRuns(ids: readonly string[]): Promise<Run[]> {
    if (ids.length === 0) return [];
    return (await this.all<RunRow>(this.pool, 'SELECT * FROM runs WHERE id = ANY($1::text[])', [ids])).map(toRun);
  }

  /** Oldest first (by created_at, then id). */
  async listRuns(filter: { conversationId?: string; threadId?: string; statuses?: RunStatus[]; parentRunId?: string; limit?: number }): Promise<Run[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const eq = (column: string, value: unknown) => {
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    if (filter.conversationId !== undefined) eq('conversation_id', filter.conversationId);
    if (filter.threadId !== undefined) eq('thread_id', filter.threadId);
    if (filter.parentRunId !== undefined) eq('parent_run_id', filter.parentRunId);
    if (filter.statuses !== undefined) {
      if (filter.statuses.length === 0) return [];
      params.push(filter.statuses);
      where.push(`status = ANY($${params.length}::text[])`);
    }
    params.push(filter.limit ?? null);
    const sql = `SELECT * FROM runs${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id COLLATE "C" LIMIT $${params.length}`;
    return (await this.all<RunRow>(this.pool, sql, params)).map(toRun);
  }

  async findChildRun(parentRunId: string, parentToolCallId: string): Promise<Run | null> {
    const row = await this.one<RunRow>(
      this.pool,
      'SELECT * FROM runs WHERE parent_run_id = $1 AND parent_tool_call_id = $2 ORDER BY created_at, id COLLATE "C" LIMIT 1',
      [parentRunId, parentToolCallId],
    );
    return row ? toRun(row) : null;
  }

  /**
   * Claims the oldest queued run of the thread, unless any run of the thread is in_progress or
   * requires_action (live lease or not: an orphan is resumed with adoptRun before the queue moves).
   * The thread row lock serialises claims on one thread across replicas (and the seq of the input
   * message the claim appends); null for an unknown thread.
   */
  async claimNextRun(threadId: string, owner: string, leaseUntil: number, now: number, inputMessageId: string): Promise<ClaimedRun | null> {
    return this.transaction(async (client) => {
      const thread = await this.one(client, 'SELECT id FROM threads WHERE id = $1 FOR NO KEY UPDATE', [threadId]);
      if (!thread) return null;
      const active = await this.one(client, `SELECT 1 FROM runs WHERE thread_id = $1 AND status IN ${ACTIVE_SQL} LIMIT 1`, [threadId]);
      if (active) return null;
      const row = await this.one<RunRow & { fresh: boolean }>(client, SQL.claimNext, [threadId, owner, leaseUntil, now]);
      if (!row) return null;
      const run = toRun(row);
      if (!row.fresh || !run.input) return { run, input: null };
      const { content, images, author } = run.input;
      const [input] = await this.writes.insertMessages(client, threadId, [{ id: inputMessageId, role: 'user', author, content, images, runId: run.id }], now);
      return { run, input: input! };
    });
  }

  async renewLeases(owner: string, leaseUntil: number): Promise<void> {
    await this.pool.query(`UPDATE runs SET lease_until = $1 WHERE lease_owner = $2 AND status IN ${ACTIVE_SQL}`, [leaseUntil, owner]);
  }

  /**
   * In-progress runs whose lease expired (or was never set), and queued runs on threads without an
   * active run (nothing holds them up), oldest first: what a (re)started process should look at.
   * requires_action runs are not listed: they wait on a person, not on a process.
   */
  async listOrphanedRuns(now: number): Promise<Run[]> {
    return (await this.all<RunRow>(this.pool, SQL.orphanedRuns, [now])).map(toRun);
  }

  /** Compare-and-set on the lease the caller saw; see Store.adoptRun. True when this owner now holds it. */
  async adoptRun(runId: string, owner: string, leaseUntil: number, expected: Pick<Run, 'leaseOwner' | 'leaseUntil'>): Promise<boolean> {
    const res = await this.pool.query(SQL.adoptRun, [runId, owner, leaseUntil, expected.leaseOwner, expected.leaseUntil]);
    return (res.rowCount ?? 0) > 0;
  }

  async updateRun(id: string, patch: RunPatch): Promise<Run> {
    const sets = runPatchColumns(patch);
    const row = sets.length
      ? await this.one<RunRow>(this.pool, `UPDATE runs SET ${sets.map((s, i) => `${s.column} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING *`, [id, ...sets.map((s) => s.value)])
      : await this.one<RunRow>(this.pool, 'SELECT * FROM runs WHERE id = $1', [id]);
    if (!row) throw new NotFoundError('run', id);
    return toRun(row);
  }

  // ---- run steps --------------------------------------------------------------------------------

  recordModelStep(...args: Parameters<Store['recordModelStep']>): ReturnType<Store['recordModelStep']> {
    return this.writes.recordModelStep(...args);
  }

  startToolStep(...args: Parameters<Store['startToolStep']>): ReturnType<Store['startToolStep']> {
    return this.writes.startToolStep(...args);
  }

  finishToolStep(...args: Parameters<Store['finishToolStep']>): ReturnType<Store['finishToolStep']> {
    return this.writes.finishToolStep(...args);
  }

  recordToolStep(...args: Parameters<Store['recordToolStep']>): ReturnType<Store['recordToolStep']> {
    return this.writes.recordToolStep(...args);
  }

  async listRunSteps(runId: string): Promise<RunStep[]> {
    return (await this.all<StepRow>(this.pool, 'SELECT * FROM run_steps WHERE run_id = $1 ORDER BY seq', [runId])).map(toStep);
  }

  // ---- usage ------------------------------------------------------------------------------------

  /** Sorted by key. 'agent' and 'conversation' sum the runs; 'model' sums model_call steps by data->>'model'. */
  async usageBy(group: 'agent' | 'model' | 'conversation', filter: { conversationId?: string } = {}): Promise<UsageTotals[]> {
    const conv = filter.conversationId;
    const rows = await this.all<UsageRow>(this.pool, usageSql(group, conv !== undefined), conv !== undefined ? [conv] : []);
    // Sorted here, by code point, so the order does not depend on the database's collation.
    return rows.map(toTotals).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
