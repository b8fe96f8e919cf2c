import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import { NotFoundError } from '../errors.js';
import { toConversation, toThread, type ConversationRow, type Json, type ThreadRow } from './rows.js';
import { principalId, type Conversation, type NewConversationOptions, type Principal, type Thread } from './types.js';

/**
 * Conversations, their participants and their threads, for PostgresStore (through its pool). Inserts
 * are `ON CONFLICT DO NOTHING` followed by a read of what won, so replicas racing for one key agree.
 */

export function isForeignKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';
}

/** Something that runs a query: the pool, or a client inside a transaction. */
export interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const SQL = {
  // The owner is the first participant, in the same statement.
  insertConversation: `WITH c AS (
      INSERT INTO conversations (id, key, owner, owner_surface, owner_user_id, title, created_at, access)
      VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING RETURNING *
    ), p AS (
      INSERT INTO conversation_participants (conversation_id, principal_id, principal, joined_at)
      SELECT id, $9, owner, created_at FROM c
    )
    SELECT * FROM c`,
  insertParticipant: `INSERT INTO conversation_participants (conversation_id, principal_id, principal, joined_at)
    VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING`,
  insertThread: `INSERT INTO threads (id, conversation_id, agent, created_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (conversation_id, agent) DO NOTHING RETURNING *`,
} as const;

export class PostgresConversations {
  readonly #pool: Queryable;
  readonly #clock: () => number;

  constructor(pool: Queryable, clock: () => number) {
    this.#pool = pool;
    this.#clock = clock;
  }

  async #one<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<R | undefined> {
    return (await this.#pool.query<R>(sql, params)).rows[0];
  }

  async getOrCreate(key: string, owner: Principal, id: string, opts: NewConversationOptions = {}): Promise<{ conversation: Conversation; created: boolean }> {
    const params = [id, key, JSON.stringify(owner), owner.surface, owner.userId, opts.title ?? null, this.#clock(), opts.access ?? 'private', principalId(owner)];
    const inserted = await this.#one<ConversationRow>(SQL.insertConversation, params);
    if (inserted) return { conversation: toConversation(inserted), created: true };
    const row = await this.#one<ConversationRow>('SELECT * FROM conversations WHERE key = $1', [key]);
    return { conversation: toConversation(row!), created: false };
  }

  async get(id: string): Promise<Conversation | null> {
    const row = await this.#one<ConversationRow>('SELECT * FROM conversations WHERE id = $1', [id]);
    return row ? toConversation(row) : null;
  }

  async getByKey(key: string): Promise<Conversation | null> {
    const row = await this.#one<ConversationRow>('SELECT * FROM conversations WHERE key = $1', [key]);
    return row ? toConversation(row) : null;
  }

  /** Newest first. */
  async list(filter: { ownerSurface?: string; ownerUserId?: string; limit?: number } = {}): Promise<Conversation[]> {
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
    return (await this.#pool.query<ConversationRow>(sql, params)).rows.map(toConversation);
  }

  async addParticipant(conversationId: string, p: Principal): Promise<void> {
    try {
      await this.#pool.query(SQL.insertParticipant, [conversationId, principalId(p), JSON.stringify(p), this.#clock()]);
    } catch (err) {
      if (isForeignKeyError(err)) throw new NotFoundError('conversation', conversationId);
      throw err;
    }
  }

  async participants(conversationId: string): Promise<Principal[]> {
    const rows = await this.#pool.query<{ principal: Json<Principal> }>(
      'SELECT principal FROM conversation_participants WHERE conversation_id = $1 ORDER BY joined_at, principal_id COLLATE "C"',
      [conversationId],
    );
    return rows.rows.map((r) => (typeof r.principal === 'string' ? (JSON.parse(r.principal) as Principal) : r.principal));
  }

  async isParticipant(conversationId: string, p: Principal): Promise<boolean> {
    return (await this.#one('SELECT 1 FROM conversation_participants WHERE conversation_id = $1 AND principal_id = $2', [conversationId, principalId(p)])) !== undefined;
  }

  async getOrCreateThread(conversationId: string, agent: string, id: string): Promise<Thread> {
    try {
      const inserted = await this.#one<ThreadRow>(SQL.insertThread, [id, conversationId, agent, this.#clock()]);
      if (inserted) return toThread(inserted);
    } catch (err) {
      if (isForeignKeyError(err)) throw new NotFoundError('conversation', conversationId);
      throw err;
    }
    const row = await this.#one<ThreadRow>('SELECT * FROM threads WHERE conversation_id = $1 AND agent = $2', [conversationId, agent]);
    return toThread(row!);
  }

  async getThread(id: string): Promise<Thread | null> {
    const row = await this.#one<ThreadRow>('SELECT * FROM threads WHERE id = $1', [id]);
    return row ? toThread(row) : null;
  }

  async listThreads(conversationId: string): Promise<Thread[]> {
    return (await this.#pool.query<ThreadRow>('SELECT * FROM threads WHERE conversation_id = $1 ORDER BY created_at, id COLLATE "C"', [conversationId])).rows.map(toThread);
  }
}
