import { NotFoundError } from '../errors.js';
import { toConversation, toThread, type ConversationRow, type ThreadRow } from './rows.js';
import type { SqliteStatement } from './sqlite-driver.js';
import type { RidingDatabase } from './sqlite-riders.js';
import { principalId, type Conversation, type NewConversationOptions, type Principal, type Thread } from './types.js';

/**
 * Conversations, their participants and their threads, for SqliteStore (on its connection). The
 * drivers are synchronous, so a read-then-insert here cannot interleave with this connection's other
 * work; across connections, inserts are `ON CONFLICT DO NOTHING` followed by a read of what won.
 */

export function isForeignKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** `column = ?` conditions for the filter values that are set, in order, and their parameters. */
export function equalities(filters: [column: string, value: unknown][]): { where: string[]; params: unknown[] } {
  const set = filters.filter(([, value]) => value !== undefined);
  return { where: set.map(([column]) => `${column} = ?`), params: set.map(([, value]) => value) };
}

const SQL = {
  insertConversation: `INSERT INTO conversations (id, key, owner, owner_surface, owner_user_id, title, created_at, access)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
  conversationById: 'SELECT * FROM conversations WHERE id = ?',
  conversationByKey: 'SELECT * FROM conversations WHERE key = ?',
  insertParticipant: `INSERT INTO conversation_participants (conversation_id, principal_id, principal, joined_at)
    VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  participants: 'SELECT principal FROM conversation_participants WHERE conversation_id = ? ORDER BY joined_at, principal_id',
  participant: 'SELECT 1 FROM conversation_participants WHERE conversation_id = ? AND principal_id = ?',
  insertThread: `INSERT INTO threads (id, conversation_id, agent, created_at)
    VALUES (?, ?, ?, ?) ON CONFLICT (conversation_id, agent) DO NOTHING`,
  threadById: 'SELECT * FROM threads WHERE id = ?',
  threadByAgent: 'SELECT * FROM threads WHERE conversation_id = ? AND agent = ?',
  threadsOfConversation: 'SELECT * FROM threads WHERE conversation_id = ? ORDER BY created_at, id',
} as const;

export class SqliteConversations {
  readonly #db: RidingDatabase;
  readonly #clock: () => number;
  readonly #stmts = new Map<string, SqliteStatement>();

  constructor(db: RidingDatabase, clock: () => number) {
    this.#db = db;
    this.#clock = clock;
  }

  /** Prepared on first use (after the store's migrations), then reused; also for dynamic SQL. */
  q(sql: string): SqliteStatement {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }

  clear(): void {
    this.#stmts.clear();
  }

  async getOrCreate(key: string, owner: Principal, id: string, opts: NewConversationOptions = {}): Promise<{ conversation: Conversation; created: boolean }> {
    // Read first: the common case (it exists) then takes no write lock.
    const existing = this.q(SQL.conversationByKey).get(key) as unknown as ConversationRow | undefined;
    if (existing) return { conversation: toConversation(existing), created: false };
    const now = this.#clock();
    // A write of the group commit (sqlite-riders.ts): conversations started in the same turn share it.
    return this.#db.write(() => {
      const res = this.q(SQL.insertConversation).run(id, key, JSON.stringify(owner), owner.surface, owner.userId, opts.title ?? null, now, opts.access ?? 'private');
      if (res.changes === 1) this.q(SQL.insertParticipant).run(id, principalId(owner), JSON.stringify(owner), now);
      const row = this.q(SQL.conversationByKey).get(key) as unknown as ConversationRow;
      return { conversation: toConversation(row), created: res.changes === 1 };
    });
  }

  get(id: string): Conversation | null {
    const row = this.q(SQL.conversationById).get(id) as unknown as ConversationRow | undefined;
    return row ? toConversation(row) : null;
  }

  getByKey(key: string): Conversation | null {
    const row = this.q(SQL.conversationByKey).get(key) as unknown as ConversationRow | undefined;
    return row ? toConversation(row) : null;
  }

  /** Newest first. */
  list(filter: { ownerSurface?: string; ownerUserId?: string; limit?: number } = {}): Conversation[] {
    const { where, params } = equalities([
      ['owner_surface', filter.ownerSurface],
      ['owner_user_id', filter.ownerUserId],
    ]);
    const sql = `SELECT * FROM conversations${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    params.push(filter.limit ?? -1);
    return (this.q(sql).all(...params) as unknown as ConversationRow[]).map(toConversation);
  }

  addParticipant(conversationId: string, p: Principal): void {
    try {
      this.q(SQL.insertParticipant).run(conversationId, principalId(p), JSON.stringify(p), this.#clock());
    } catch (err) {
      if (isForeignKeyError(err)) throw new NotFoundError('conversation', conversationId);
      throw err;
    }
  }

  participants(conversationId: string): Principal[] {
    return (this.q(SQL.participants).all(conversationId) as { principal: string }[]).map((r) => JSON.parse(r.principal) as Principal);
  }

  isParticipant(conversationId: string, p: Principal): boolean {
    return this.q(SQL.participant).get(conversationId, principalId(p)) !== undefined;
  }

  async getOrCreateThread(conversationId: string, agent: string, id: string): Promise<Thread> {
    const existing = this.q(SQL.threadByAgent).get(conversationId, agent) as unknown as ThreadRow | undefined;
    if (existing) return toThread(existing);
    const now = this.#clock();
    try {
      // A write of the group commit: the threads opened in the same turn share it.
      return await this.#db.write(() => {
        this.q(SQL.insertThread).run(id, conversationId, agent, now);
        return toThread(this.q(SQL.threadByAgent).get(conversationId, agent) as unknown as ThreadRow);
      });
    } catch (err) {
      if (isForeignKeyError(err)) throw new NotFoundError('conversation', conversationId);
      throw err;
    }
  }

  getThread(id: string): Thread | null {
    const row = this.q(SQL.threadById).get(id) as unknown as ThreadRow | undefined;
    return row ? toThread(row) : null;
  }

  listThreads(conversationId: string): Thread[] {
    return (this.q(SQL.threadsOfConversation).all(conversationId) as unknown as ThreadRow[]).map(toThread);
  }
}
