import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { NotFoundError } from '../errors.js';
import type { ToolCall, Usage } from '../model/types.js';
import type {
  Conversation,
  Message,
  MessageRole,
  NewMessage,
  NewRun,
  Principal,
  Run,
  RunStatus,
  RunStep,
  RunStepStatus,
  RunStepType,
  Store,
  Thread,
  UsageTotals,
} from './types.js';

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

export interface PgMigration {
  version: number;
  name: string;
  /** DDL/DML run as one simple query; may hold several statements. Unqualified names land in the store's schema. */
  sql: string;
  /** Optional code step run after `sql`, in the same transaction (data migrations). */
  up?: (client: PoolClient) => Promise<void>;
}

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

export const postgresMigrations: PgMigration[] = [
  {
    version: 1,
    name: 'core: conversations, threads, messages, runs, run_steps',
    sql: `
CREATE TABLE conversations (
  id            TEXT PRIMARY KEY,
  key           TEXT NOT NULL UNIQUE,
  owner         JSONB NOT NULL,
  owner_surface TEXT NOT NULL,
  owner_user_id TEXT NOT NULL,
  title         TEXT,
  created_at    BIGINT NOT NULL
);
CREATE INDEX conversations_owner ON conversations (owner_surface, owner_user_id, created_at);
CREATE INDEX conversations_created ON conversations (created_at);

CREATE TABLE threads (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  agent           TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  UNIQUE (conversation_id, agent)
);

CREATE TABLE messages (
  id           TEXT PRIMARY KEY,
  thread_id    TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  seq          INTEGER NOT NULL,
  role         TEXT NOT NULL,
  author       TEXT NOT NULL,
  content      TEXT NOT NULL,
  images       JSONB,
  tool_calls   JSONB,
  tool_call_id TEXT,
  is_error     BOOLEAN NOT NULL DEFAULT FALSE,
  run_id       TEXT,
  created_at   BIGINT NOT NULL,
  UNIQUE (thread_id, seq)
);
CREATE INDEX messages_run ON messages (run_id) WHERE run_id IS NOT NULL;

CREATE TABLE runs (
  id                  TEXT PRIMARY KEY,
  conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  thread_id           TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  agent               TEXT NOT NULL,
  status              TEXT NOT NULL,
  input               JSONB,
  requested_by        JSONB,
  parent_run_id       TEXT,
  parent_tool_call_id TEXT,
  depth               INTEGER NOT NULL DEFAULT 0,
  reply               TEXT,
  error               TEXT,
  prompt_tokens       BIGINT NOT NULL DEFAULT 0,
  completion_tokens   BIGINT NOT NULL DEFAULT 0,
  cost                DOUBLE PRECISION NOT NULL DEFAULT 0,
  model_calls         INTEGER NOT NULL DEFAULT 0,
  lease_owner         TEXT,
  lease_until         BIGINT,
  created_at          BIGINT NOT NULL,
  started_at          BIGINT,
  ended_at            BIGINT,
  progress_at         BIGINT NOT NULL
);
CREATE INDEX runs_thread_status ON runs (thread_id, status, created_at);
CREATE INDEX runs_parent ON runs (parent_run_id, parent_tool_call_id);
CREATE INDEX runs_status_lease ON runs (status, lease_until);
CREATE INDEX runs_conversation ON runs (conversation_id, created_at);
CREATE INDEX runs_lease_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE run_steps (
  id                TEXT PRIMARY KEY,
  run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq               INTEGER NOT NULL,
  type              TEXT NOT NULL,
  status            TEXT NOT NULL,
  data              JSONB NOT NULL,
  prompt_tokens     BIGINT,
  completion_tokens BIGINT,
  cost              DOUBLE PRECISION NOT NULL DEFAULT 0,
  created_at        BIGINT NOT NULL,
  ended_at          BIGINT,
  UNIQUE (run_id, seq)
);
`,
  },
];

/** Checks that versions are positive integers and unique; returns them sorted. */
export function sortPgMigrations(migrations: readonly PgMigration[]): PgMigration[] {
  const seen = new Map<number, string>();
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version < 1) throw new Error(`Migration "${m.name}" has an invalid version ${m.version}.`);
    const other = seen.get(m.version);
    if (other !== undefined) throw new Error(`Migrations "${other}" and "${m.name}" share version ${m.version}.`);
    seen.set(m.version, m.name);
  }
  return [...migrations].sort((a, b) => a.version - b.version);
}

type Num = number | string;

interface ConversationRow {
  id: string;
  key: string;
  owner: Principal;
  title: string | null;
  created_at: Num;
}

interface ThreadRow {
  id: string;
  conversation_id: string;
  agent: string;
  created_at: Num;
}

interface MessageRow {
  id: string;
  thread_id: string;
  seq: Num;
  role: string;
  author: string;
  content: string;
  images: string[] | null;
  tool_calls: ToolCall[] | null;
  tool_call_id: string | null;
  is_error: boolean;
  run_id: string | null;
  created_at: Num;
}

interface RunRow {
  id: string;
  conversation_id: string;
  thread_id: string;
  agent: string;
  status: string;
  input: Run['input'];
  requested_by: Principal | null;
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
}

interface StepRow {
  id: string;
  run_id: string;
  seq: Num;
  type: string;
  status: string;
  data: Record<string, unknown>;
  prompt_tokens: Num | null;
  completion_tokens: Num | null;
  cost: Num;
  created_at: Num;
  ended_at: Num | null;
}

interface UsageRow {
  key: string;
  prompt_tokens: Num | null;
  completion_tokens: Num | null;
  cost: Num | null;
  model_calls: Num | null;
}

const ACTIVE_SQL = "('in_progress', 'requires_action')";
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** First key of the two-int advisory lock taken while migrating; the second is the schema's hash. */
const MIGRATION_LOCK = 0x5bd0;

/** Maps `updateRun` patch keys to columns; also the whitelist of what a patch may change. */
const RUN_PATCH_COLUMNS = {
  status: 'status',
  reply: 'reply',
  error: 'error',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  progressAt: 'progress_at',
  leaseOwner: 'lease_owner',
  leaseUntil: 'lease_until',
} as const;
type RunPatch = Parameters<Store['updateRun']>[1];

const MESSAGE_COLUMNS = 'id, thread_id, seq, role, author, content, images, tool_calls, tool_call_id, is_error, run_id, created_at';

function num(v: Num): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: Num | null): number | null {
  return v === null ? null : num(v);
}

/** JSONB parameter: pg would turn a JS array into a PostgreSQL array, so JSON goes as text. */
function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function isForeignKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';
}

function toConversation(r: ConversationRow): Conversation {
  return { id: r.id, key: r.key, owner: r.owner, title: r.title, createdAt: num(r.created_at) };
}

function toThread(r: ThreadRow): Thread {
  return { id: r.id, conversationId: r.conversation_id, agent: r.agent, createdAt: num(r.created_at) };
}

function toMessage(r: MessageRow): Message {
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
  if (r.images !== null) m.images = r.images;
  if (r.tool_calls !== null) m.toolCalls = r.tool_calls;
  if (r.tool_call_id !== null) m.toolCallId = r.tool_call_id;
  if (r.is_error) m.isError = true;
  return m;
}

function toRun(r: RunRow): Run {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    threadId: r.thread_id,
    agent: r.agent,
    status: r.status as RunStatus,
    input: r.input,
    requestedBy: r.requested_by,
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
  };
}

function toStep(r: StepRow): RunStep {
  return {
    id: r.id,
    runId: r.run_id,
    seq: num(r.seq),
    type: r.type as RunStepType,
    status: r.status as RunStepStatus,
    data: r.data,
    usage: r.prompt_tokens === null ? null : { promptTokens: num(r.prompt_tokens), completionTokens: numOrNull(r.completion_tokens) ?? 0 },
    cost: num(r.cost),
    createdAt: num(r.created_at),
    endedAt: numOrNull(r.ended_at),
  };
}

function toTotals(r: UsageRow): UsageTotals {
  return {
    key: r.key,
    promptTokens: numOrNull(r.prompt_tokens) ?? 0,
    completionTokens: numOrNull(r.completion_tokens) ?? 0,
    cost: numOrNull(r.cost) ?? 0,
    modelCalls: numOrNull(r.model_calls) ?? 0,
  };
}

/** Something that runs a query: the pool, or a client inside a transaction. */
interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export class PostgresStore implements Store {
  /** The pool, for modules (plans, approvals) that keep their tables in the same database and schema. */
  readonly pool: pg.Pool;
  readonly schema: string;
  private readonly clock: () => number;
  private readonly migrations: PgMigration[];
  private closed = false;

  constructor(opts: PostgresStoreOptions) {
    const schema = opts.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new Error(`PostgresStore: schema "${schema}" must match ${SCHEMA_NAME.source}.`);
    this.schema = schema;
    this.clock = opts.clock ?? Date.now;
    this.migrations = sortPgMigrations([...postgresMigrations, ...(opts.extraMigrations ?? [])]);
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.pool?.max ?? 10,
      application_name: 'switchboard',
      // The schema name is a plain identifier (checked above), so it needs no quoting here.
      ...(schema === 'public' ? {} : { options: `-c search_path=${schema}` }),
    });
    // A pooled connection that dies while idle must not crash the process; the next query reconnects.
    this.pool.on('error', () => {});
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

  /** Locks the thread row for the transaction; NotFoundError when it does not exist. */
  private async lockThread(client: PoolClient, threadId: string): Promise<void> {
    const row = await this.one(client, 'SELECT id FROM threads WHERE id = $1 FOR NO KEY UPDATE', [threadId]);
    if (!row) throw new NotFoundError('thread', threadId);
  }

  /** Locks the run row for the transaction; NotFoundError when it does not exist. */
  private async lockRun(client: PoolClient, runId: string): Promise<void> {
    const row = await this.one(client, 'SELECT id FROM runs WHERE id = $1 FOR NO KEY UPDATE', [runId]);
    if (!row) throw new NotFoundError('run', runId);
  }

  /** Inserts messages after the thread's last seq; the caller holds the thread lock. */
  private async insertMessages(client: PoolClient, threadId: string, messages: (NewMessage & { id: string })[], now: number): Promise<Message[]> {
    const last = await this.one<{ seq: Num }>(client, 'SELECT COALESCE(MAX(seq), 0) AS seq FROM messages WHERE thread_id = $1', [threadId]);
    const base = num(last?.seq ?? 0);
    const values: string[] = [];
    const params: unknown[] = [];
    messages.forEach((m, i) => {
      const p = params.length;
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7}::jsonb, $${p + 8}::jsonb, $${p + 9}, $${p + 10}, $${p + 11}, $${p + 12})`);
      params.push(m.id, threadId, base + i + 1, m.role, m.author, m.content, json(m.images), json(m.toolCalls), m.toolCallId ?? null, m.isError === true, m.runId ?? null, now);
    });
    const rows = await this.all<MessageRow>(client, `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES ${values.join(', ')} RETURNING *`, params);
    return rows.map(toMessage).sort((a, b) => a.seq - b.seq);
  }

  /** Inserts a step after the run's last seq; the caller holds the run lock. */
  private async insertStep(
    client: PoolClient,
    s: { id: string; runId: string; type: RunStepType; status: RunStepStatus; data: Record<string, unknown>; usage: Usage | null; cost: number; endedAt: number | null },
    now: number,
  ): Promise<RunStep> {
    const row = await this.one<StepRow>(
      client,
      `INSERT INTO run_steps (id, run_id, seq, type, status, data, prompt_tokens, completion_tokens, cost, created_at, ended_at)
       VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_steps WHERE run_id = $2), $3, $4, $5::jsonb, $6, $7, $8, $9, $10)
       RETURNING *`,
      [s.id, s.runId, s.type, s.status, JSON.stringify(s.data), s.usage?.promptTokens ?? null, s.usage?.completionTokens ?? null, s.cost, now, s.endedAt],
    );
    return toStep(row!);
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
      if (known && known.name !== m.name) throw new Error(`Migration ${m.version} "${m.name}" clashes with the migration "${known.name}".`);
      byVersion.set(m.version, m);
    }
    const sorted = sortPgMigrations([...byVersion.values()]);
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, this.schema]);
      // CREATE SCHEMA checks the CREATE privilege on the database even with IF NOT EXISTS: look first.
      const exists = await this.one(client, 'SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schema]);
      if (!exists) await client.query(`CREATE SCHEMA "${this.schema}"`);
      await client.query("SELECT set_config('search_path', $1, true)", [`"${this.schema}"`]);
      await client.query(`CREATE TABLE IF NOT EXISTS switchboard_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      )`);
      const done = new Map(
        (await this.all<{ version: number; name: string }>(client, 'SELECT version, name FROM switchboard_migrations', [])).map((r) => [r.version, r.name]),
      );
      const applied: number[] = [];
      for (const m of sorted) {
        const recorded = done.get(m.version);
        if (recorded !== undefined) {
          // Two modules picked the same version: one of them would silently never run.
          if (recorded !== m.name) throw new Error(`Migration ${m.version} "${m.name}" clashes with the applied migration "${recorded}".`);
          continue;
        }
        if (m.sql.trim()) await client.query(m.sql);
        await m.up?.(client);
        await client.query('INSERT INTO switchboard_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, this.clock()]);
        applied.push(m.version);
      }
      return applied;
    });
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // ---- conversations and threads --------------------------------------------------------------

  async getOrCreateConversation(key: string, owner: Principal, id: string): Promise<{ conversation: Conversation; created: boolean }> {
    const inserted = await this.one<ConversationRow>(
      this.pool,
      `INSERT INTO conversations (id, key, owner, owner_surface, owner_user_id, title, created_at)
       VALUES ($1, $2, $3::jsonb, $4, $5, NULL, $6) ON CONFLICT (key) DO NOTHING RETURNING *`,
      [id, key, JSON.stringify(owner), owner.surface, owner.userId, this.clock()],
    );
    if (inserted) return { conversation: toConversation(inserted), created: true };
    const row = await this.one<ConversationRow>(this.pool, 'SELECT * FROM conversations WHERE key = $1', [key]);
    return { conversation: toConversation(row!), created: false };
  }

  async getConversation(id: string): Promise<Conversation | null> {
    const row = await this.one<ConversationRow>(this.pool, 'SELECT * FROM conversations WHERE id = $1', [id]);
    return row ? toConversation(row) : null;
  }

  async getConversationByKey(key: string): Promise<Conversation | null> {
    const row = await this.one<ConversationRow>(this.pool, 'SELECT * FROM conversations WHERE key = $1', [key]);
    return row ? toConversation(row) : null;
  }

  /** Newest first. */
  async listConversations(filter: { ownerSurface?: string; ownerUserId?: string; limit?: number } = {}): Promise<Conversation[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.ownerSurface !== undefined) {
      params.push(filter.ownerSurface);
      where.push(`owner_surface = $${params.length}`);
    }
    if (filter.ownerUserId !== undefined) {
      params.push(filter.ownerUserId);
      where.push(`owner_user_id = $${params.length}`);
    }
    params.push(filter.limit ?? null);
    const sql = `SELECT * FROM conversations${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $${params.length}`;
    return (await this.all<ConversationRow>(this.pool, sql, params)).map(toConversation);
  }

  async getOrCreateThread(conversationId: string, agent: string, id: string): Promise<Thread> {
    try {
      const inserted = await this.one<ThreadRow>(
        this.pool,
        `INSERT INTO threads (id, conversation_id, agent, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (conversation_id, agent) DO NOTHING RETURNING *`,
        [id, conversationId, agent, this.clock()],
      );
      if (inserted) return toThread(inserted);
    } catch (err) {
      if (isForeignKeyError(err)) throw new NotFoundError('conversation', conversationId);
      throw err;
    }
    const row = await this.one<ThreadRow>(this.pool, 'SELECT * FROM threads WHERE conversation_id = $1 AND agent = $2', [conversationId, agent]);
    return toThread(row!);
  }

  async getThread(id: string): Promise<Thread | null> {
    const row = await this.one<ThreadRow>(this.pool, 'SELECT * FROM threads WHERE id = $1', [id]);
    return row ? toThread(row) : null;
  }

  async listThreads(conversationId: string): Promise<Thread[]> {
    return (await this.all<ThreadRow>(this.pool, 'SELECT * FROM threads WHERE conversation_id = $1 ORDER BY created_at, id COLLATE "C"', [conversationId])).map(toThread);
  }

  // ---- messages ---------------------------------------------------------------------------------

  async appendMessages(threadId: string, messages: (NewMessage & { id: string })[]): Promise<Message[]> {
    if (messages.length === 0) return [];
    const now = this.clock();
    return this.transaction(async (client) => {
      await this.lockThread(client, threadId);
      return this.insertMessages(client, threadId, messages, now);
    });
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
        `INSERT INTO runs (id, conversation_id, thread_id, agent, status, input, requested_by, parent_run_id, parent_tool_call_id, depth, created_at, progress_at)
         VALUES ($1, $2, $3, $4, 'queued', $5::jsonb, $6::jsonb, $7, $8, $9, $10, $10) RETURNING *`,
        [run.id, run.conversationId, run.threadId, run.agent, json(run.input), json(run.requestedBy), run.parentRunId ?? null, run.parentToolCallId ?? null, run.depth ?? 0, now],
      );
      return toRun(row!);
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
   * The thread row lock serialises claims on one thread across replicas; null for an unknown thread.
   */
  async claimNextRun(threadId: string, owner: string, leaseUntil: number, now: number): Promise<Run | null> {
    return this.transaction(async (client) => {
      const thread = await this.one(client, 'SELECT id FROM threads WHERE id = $1 FOR NO KEY UPDATE', [threadId]);
      if (!thread) return null;
      const active = await this.one(client, `SELECT 1 FROM runs WHERE thread_id = $1 AND status IN ${ACTIVE_SQL} LIMIT 1`, [threadId]);
      if (active) return null;
      const row = await this.one<RunRow>(
        client,
        `UPDATE runs
         SET status = 'in_progress', lease_owner = $2, lease_until = $3, started_at = COALESCE(started_at, $4), progress_at = $4
         WHERE id = (SELECT id FROM runs WHERE thread_id = $1 AND status = 'queued' ORDER BY created_at, id COLLATE "C" LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [threadId, owner, leaseUntil, now],
      );
      return row ? toRun(row) : null;
    });
  }

  async renewLeases(owner: string, leaseUntil: number): Promise<void> {
    await this.pool.query(`UPDATE runs SET lease_until = $1 WHERE lease_owner = $2 AND status IN ${ACTIVE_SQL}`, [leaseUntil, owner]);
  }

  /**
   * In-progress runs whose lease expired (or was never set), then every queued run, oldest first:
   * what a (re)started process should look at. requires_action runs are not listed: they wait on
   * a person, not on a process.
   */
  async listOrphanedRuns(now: number): Promise<Run[]> {
    const rows = await this.all<RunRow>(
      this.pool,
      `SELECT * FROM runs
       WHERE (status = 'in_progress' AND (lease_until IS NULL OR lease_until < $1)) OR status = 'queued'
       ORDER BY created_at, id COLLATE "C"`,
      [now],
    );
    return rows.map(toRun);
  }

  /**
   * Takes the lease of an in_progress / requires_action run when it is free (no owner, no or an
   * expired lease) or already ours. True when this owner now holds it.
   */
  async adoptRun(runId: string, owner: string, leaseUntil: number, now: number): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE runs SET lease_owner = $2, lease_until = $3
       WHERE id = $1 AND status IN ${ACTIVE_SQL}
         AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until IS NULL OR lease_until < $4)`,
      [runId, owner, leaseUntil, now],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async updateRun(id: string, patch: RunPatch): Promise<Run> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [key, column] of Object.entries(RUN_PATCH_COLUMNS) as [keyof RunPatch, string][]) {
      const value = patch[key];
      if (value === undefined) continue;
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    }
    const row = sets.length
      ? await this.one<RunRow>(this.pool, `UPDATE runs SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params)
      : await this.one<RunRow>(this.pool, 'SELECT * FROM runs WHERE id = $1', params);
    if (!row) throw new NotFoundError('run', id);
    return toRun(row);
  }

  // ---- run steps --------------------------------------------------------------------------------

  async recordModelStep(
    step: { id: string; runId: string; data: Record<string, unknown>; usage: Usage; cost: number },
    message: NewMessage & { id: string; threadId: string },
  ): Promise<{ step: RunStep; message: Message }> {
    const now = this.clock();
    return this.transaction(async (client) => {
      await this.lockThread(client, message.threadId);
      await this.lockRun(client, step.runId);
      const s = await this.insertStep(
        client,
        { id: step.id, runId: step.runId, type: 'model_call', status: 'completed', data: step.data, usage: step.usage, cost: step.cost, endedAt: now },
        now,
      );
      const [m] = await this.insertMessages(client, message.threadId, [message], now);
      await client.query(
        `UPDATE runs SET prompt_tokens = prompt_tokens + $2, completion_tokens = completion_tokens + $3,
           cost = cost + $4, model_calls = model_calls + 1, progress_at = $5
         WHERE id = $1`,
        [step.runId, step.usage.promptTokens, step.usage.completionTokens, step.cost, now],
      );
      return { step: s, message: m! };
    });
  }

  async startToolStep(step: { id: string; runId: string; data: Record<string, unknown> }): Promise<RunStep> {
    const now = this.clock();
    return this.transaction(async (client) => {
      await this.lockRun(client, step.runId);
      const s = await this.insertStep(
        client,
        { id: step.id, runId: step.runId, type: 'tool_call', status: 'started', data: step.data, usage: null, cost: 0, endedAt: null },
        now,
      );
      await client.query('UPDATE runs SET progress_at = $2 WHERE id = $1', [step.runId, now]);
      return s;
    });
  }

  async finishToolStep(stepId: string, status: RunStepStatus, message: NewMessage & { id: string; threadId: string }): Promise<{ step: RunStep; message: Message }> {
    const now = this.clock();
    return this.transaction(async (client) => {
      await this.lockThread(client, message.threadId);
      const row = await this.one<StepRow>(client, 'UPDATE run_steps SET status = $2, ended_at = $3 WHERE id = $1 RETURNING *', [stepId, status, now]);
      if (!row) throw new NotFoundError('run step', stepId);
      const [m] = await this.insertMessages(client, message.threadId, [message], now);
      await client.query('UPDATE runs SET progress_at = $2 WHERE id = $1', [row.run_id, now]);
      return { step: toStep(row), message: m! };
    });
  }

  async listRunSteps(runId: string): Promise<RunStep[]> {
    return (await this.all<StepRow>(this.pool, 'SELECT * FROM run_steps WHERE run_id = $1 ORDER BY seq', [runId])).map(toStep);
  }

  // ---- usage ------------------------------------------------------------------------------------

  /** Sorted by key. 'agent' and 'conversation' sum the runs; 'model' sums model_call steps by data->>'model'. */
  async usageBy(group: 'agent' | 'model' | 'conversation', filter: { conversationId?: string } = {}): Promise<UsageTotals[]> {
    const conv = filter.conversationId;
    let sql: string;
    if (group === 'model') {
      sql = `SELECT COALESCE(s.data->>'model', 'unknown') AS key,
          SUM(s.prompt_tokens) AS prompt_tokens, SUM(s.completion_tokens) AS completion_tokens,
          SUM(s.cost) AS cost, COUNT(*) AS model_calls
        FROM run_steps s${conv !== undefined ? ' JOIN runs r ON r.id = s.run_id' : ''}
        WHERE s.type = 'model_call'${conv !== undefined ? ' AND r.conversation_id = $1' : ''}
        GROUP BY 1`;
    } else {
      const column = group === 'agent' ? 'agent' : 'conversation_id';
      sql = `SELECT ${column} AS key, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
          SUM(cost) AS cost, SUM(model_calls) AS model_calls
        FROM runs${conv !== undefined ? ' WHERE conversation_id = $1' : ''}
        GROUP BY 1`;
    }
    const rows = await this.all<UsageRow>(this.pool, sql, conv !== undefined ? [conv] : []);
    // Sorted here, by code point, so the order does not depend on the database's collation.
    return rows.map(toTotals).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
