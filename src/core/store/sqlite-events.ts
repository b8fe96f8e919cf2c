import { randomUUID } from 'node:crypto';
import { SwitchboardError } from '../errors.js';
import type { SwitchboardEvent } from '../events.js';
import { RemoteListeners, eventColumns, toStoredEvent, type EventLog, type StoredEvent, type WriteWithEvents } from '../events/log.js';
import type { SqliteMigration } from './migrations.js';
import type { SqliteStatement } from './sqlite-driver.js';
import type { Boarding, TransactionRider } from './sqlite-riders.js';
import type { SqliteStore } from './sqlite.js';

export const eventSqliteMigrations: SqliteMigration[] = [
  {
    version: 30,
    name: 'events: stored lifecycle events, numbered per conversation',
    sql: `
CREATE TABLE events (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  origin          TEXT NOT NULL,
  type            TEXT NOT NULL,
  run_id          TEXT NOT NULL,
  root_run_id     TEXT NOT NULL,
  at              INTEGER NOT NULL,
  data            TEXT NOT NULL
);
CREATE UNIQUE INDEX events_conversation_seq ON events (conversation_id, seq);
CREATE INDEX events_root_run ON events (root_run_id, id);
`,
  },
];

/** Events bound to the write being made (EventLog.during): stored by its transaction or not at all. */
interface Bound {
  build(result: unknown): SwitchboardEvent[];
  settle(events: StoredEvent[] | null): void;
  taken: boolean;
}

interface Row {
  id: number;
  seq: number;
  data: string;
}

/**
 * The event log in the SQLite file of the core store, on its connection. `append` numbers the event
 * in the same statement that inserts it; SQLite runs one writer at a time per file, so processes
 * sharing the file never take the same number. Other processes' events are found by polling the
 * table past the highest row id seen, every `pollMs`, only while a remote listener exists.
 */
export class SqliteEventLog implements EventLog, TransactionRider {
  readonly live = false;
  readonly origin: string;
  readonly #store: SqliteStore;
  readonly #pollMs: number;
  readonly #remote: RemoteListeners;
  #append?: SqliteStatement;
  #after?: SqliteStatement;
  #since?: SqliteStatement;
  #timer: NodeJS.Timeout | null = null;
  #lastId = 0;
  /** Appends waiting for the next flush: one transaction stores them all (one WAL commit, not one each). */
  #pending: { params: Record<string, string | number>; resolve: (seq: number) => void; reject: (err: unknown) => void }[] = [];
  #flushing = false;
  /** Set only while a `during` write runs its synchronous part. */
  #bound: Bound | null = null;

  constructor(store: SqliteStore, opts: { origin?: string; pollMs?: number } = {}) {
    this.#store = store;
    this.origin = opts.origin ?? randomUUID();
    this.#pollMs = opts.pollMs ?? 200;
    this.#remote = new RemoteListeners(() => this.#startPolling(), () => this.#stopPolling());
  }

  async init(): Promise<void> {
    this.#store.migrate(eventSqliteMigrations);
    const db = this.#store.db;
    this.#append = db.prepare(
      `INSERT INTO events (conversation_id, seq, origin, type, run_id, root_run_id, at, data)
       VALUES (@c, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE conversation_id = @c), @origin, @type, @run, @root, @at, @data) RETURNING seq`,
    );
    this.#after = db.prepare('SELECT id, seq, data FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?');
    this.#since = db.prepare('SELECT id, seq, data FROM events WHERE id > ? AND origin <> ? ORDER BY id LIMIT 500');
    this.#store.db.addRider(this);
  }

  /**
   * Queues the event. It is numbered and stored in the next transaction the connection commits (a
   * run's step write, usually), or in one of its own on the next turn of the event loop, together
   * with the others waiting, in the order they were appended.
   */
  append(event: SwitchboardEvent): Promise<number> {
    const params = this.#params(event);
    return new Promise<number>((resolve, reject) => {
      this.#pending.push({ params, resolve, reject });
      this.#scheduleFlush();
    });
  }

  /**
   * The store's methods open their transaction synchronously, inside the call: the first one `write`
   * opens takes the events along, after its own work. An event insert that fails fails the write.
   */
  during<T>(write: () => Promise<T>, build: (result: T) => SwitchboardEvent[]): WriteWithEvents<T> {
    let settle!: (events: StoredEvent[] | null) => void;
    const stored = new Promise<StoredEvent[] | null>((resolve) => (settle = resolve));
    const bound: Bound = { build: build as (result: unknown) => SwitchboardEvent[], settle, taken: false };
    this.#bound = bound;
    let result: Promise<T>;
    try {
      result = write();
    } catch (err) {
      result = Promise.reject(err);
    } finally {
      this.#bound = null;
    }
    if (!bound.taken) settle(null);
    return { result, stored };
  }

  #params(event: SwitchboardEvent): Record<string, string | number> {
    const c = eventColumns(event);
    return { c: c.conversationId, origin: this.origin, type: c.type, run: c.runId, root: c.rootRunId, at: c.at, data: c.data };
  }

  /** One flush of its own per turn of the event loop, for what no other transaction took along. */
  #scheduleFlush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => this.#flush());
  }

  /** Stores what waits in a transaction of its own (which boards it, as any other does). */
  #flush(): void {
    this.#flushing = false;
    if (this.#pending.length === 0 || !this.#store.db.open) return;
    try {
      this.#store.db.transaction(() => {});
    } catch (err) {
      // The file is busy past the timeout or closing: the waiting appends fail rather than hang.
      for (const a of this.#pending.splice(0)) a.reject(err);
    }
  }

  /**
   * Rider: takes the waiting appends and the events bound to the write being made; writes the first
   * before the write's own work and the others after it, and settles them once the transaction ended.
   */
  board(): Boarding | null {
    if (!this.#append) return null;
    const bound = this.#bound;
    this.#bound = null;
    if (this.#pending.length === 0 && !bound) return null;
    if (bound) bound.taken = true;
    let stored: StoredEvent[] | null = null;
    const batch = this.#pending;
    this.#pending = [];
    let results: ({ seq: number } | { error: unknown })[] = [];
    return {
      before: () => {
        results = batch.map((a): { seq: number } | { error: unknown } => {
          try {
            return { seq: (this.#append!.get(a.params) as { seq: number }).seq };
          } catch (error) {
            return { error };
          }
        });
      },
      after: (result) => {
        if (bound) stored = bound.build(result).map((e) => ({ ...e, seq: (this.#append!.get(this.#params(e)) as { seq: number }).seq }) as StoredEvent);
      },
      committed: () => {
        batch.forEach((a, i) => {
          const r = results[i]!;
          if ('seq' in r) a.resolve(r.seq);
          else a.reject(r.error);
        });
        bound?.settle(stored);
      },
      rolledBack: () => {
        // Events bound to the write are gone with it; the others wait for the next transaction.
        bound?.settle(null);
        if (batch.length === 0) return;
        this.#pending.unshift(...batch);
        this.#scheduleFlush();
      },
    };
  }

  async readAfter(conversationId: string, after: number, limit = 500): Promise<StoredEvent[]> {
    const rows = this.#stmt(this.#after).all(conversationId, after, limit) as unknown as Row[];
    return rows.map((r) => toStoredEvent(r.data, r.seq));
  }

  remote(listener: (event: StoredEvent) => void): () => void {
    return this.#remote.add(listener);
  }

  catchUp(): void {
    if (this.#timer) this.#poll();
  }

  async close(): Promise<void> {
    this.#stopPolling();
    // What is still waiting is stored before the store closes.
    this.#flush();
  }

  #stmt(s: SqliteStatement | undefined): SqliteStatement {
    if (!s) throw new SwitchboardError('internal', 'SqliteEventLog: call init() first.');
    return s;
  }

  #startPolling(): void {
    if (this.#timer || !this.#store.db.open) return;
    // Only what is appended from now on: listeners that want the past read it with readAfter.
    this.#lastId = (this.#store.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM events').get() as { id: number }).id;
    this.#timer = setInterval(() => this.#poll(), this.#pollMs);
    this.#timer.unref();
  }

  #stopPolling(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #poll(): void {
    if (!this.#store.db.open) return this.#stopPolling();
    try {
      for (;;) {
        const rows = this.#stmt(this.#since).all(this.#lastId, this.origin) as unknown as Row[];
        for (const r of rows) {
          this.#lastId = r.id;
          this.#remote.deliver(toStoredEvent(r.data, r.seq));
        }
        if (rows.length < 500 || this.#remote.size === 0) break;
      }
    } catch {
      // Busy or closing: the next tick looks again from the same row.
    }
  }
}

export function sqliteEventLog(store: SqliteStore, opts?: { origin?: string; pollMs?: number }): SqliteEventLog {
  return new SqliteEventLog(store, opts);
}
