import { StoreUnavailableError } from '../errors.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';

/**
 * Writes that need no transaction of their own (stored events) ride along with the next one the
 * connection opens: one commit instead of one each, which on a busy engine is most of a write's cost.
 */
export interface TransactionRider {
  /**
   * Called when a write joins a transaction (or is queued for one): takes what waits for it (events
   * emitted before it, and those bound to it) and returns what to do with them (nothing: null).
   */
  board(): Boarding | null;
}

/** What a rider does around the write that took it along, all inside that write's transaction. */
export interface Boarding {
  /** Before the write's own work, outside its savepoint: what waited (it stays even if the write fails). */
  before?(): void;
  /** After the write's own work, inside its savepoint, with its result: what describes the write. */
  after?(result: unknown): void;
  committed(): void;
  rolledBack(): void;
}

/** A write waiting for (or in) a group commit. */
interface Item {
  fn: () => unknown;
  boarded: Boarding[];
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };
  settle?: (item: Item) => void;
}

/**
 * A connection whose outermost transactions take riders along, and group commit: writes queued with
 * `write` during one turn of the event loop share one transaction (one commit), each in a savepoint of
 * its own so that a write that throws rolls back alone and fails only its caller. A queued write's
 * promise resolves only once the transaction holding it committed: the same durability as a
 * transaction of its own (journal and `synchronous` as configured), at one commit per turn.
 */
export class RidingDatabase implements SqliteDatabase {
  readonly #db: SqliteDatabase;
  readonly #riders: TransactionRider[] = [];
  readonly #group: boolean;
  #queue: Item[] = [];
  #scheduled = false;
  #depth = 0;

  /** `group: false` commits every write on its own, as it is made (no queue). */
  constructor(db: SqliteDatabase, opts: { group?: boolean } = {}) {
    this.#db = db;
    this.#group = opts.group ?? true;
  }

  get driver(): SqliteDatabase['driver'] {
    return this.#db.driver;
  }

  get open(): boolean {
    return this.#db.open;
  }

  get inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  /** Whether writes wait for the next group commit (what they write is not there yet for a read). */
  get queued(): boolean {
    return this.#queue.length > 0;
  }

  addRider(rider: TransactionRider): void {
    this.#riders.push(rider);
  }

  prepare(sql: string): SqliteStatement {
    return this.#db.prepare(sql);
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  pragma(source: string): unknown {
    return this.#db.pragma(source);
  }

  /**
   * `fn` in a transaction now, synchronously (a savepoint when nested). Writes queued before it go first,
   * in the same commit: whatever they and their riders hold is stored in the order it was made.
   */
  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) return this.#nested(fn);
    const item: Item = { fn, boarded: this.#board() };
    this.#queue.push(item);
    this.#commit();
    const outcome = item.outcome!;
    if (!outcome.ok) throw outcome.error;
    return outcome.value as T;
  }

  /**
   * `fn` (synchronous) in the next group commit, with the writes of others made in this turn of the
   * event loop; resolves with its result once that committed. Inside a transaction: runs now, in it.
   */
  write<T>(fn: () => T): Promise<T> {
    if (this.#depth > 0 || !this.#group) {
      try {
        return Promise.resolve(this.transaction(fn));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<T>((resolve, reject) => {
      // Boarded now: the events emitted before this write are stored before it, those bound to it with it.
      this.#queue.push({ fn, boarded: this.#board(), settle: (i) => (i.outcome!.ok ? resolve(i.outcome!.value as T) : reject(i.outcome!.error)) });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#commit();
      });
    });
  }

  #board(): Boarding[] {
    const boarded: Boarding[] = [];
    for (const rider of this.#riders) {
      const b = rider.board();
      if (b) boarded.push(b);
    }
    return boarded;
  }

  /** Runs what is queued in one transaction and settles each write with its outcome. */
  #commit(): void {
    const items = this.#queue;
    this.#queue = [];
    if (items.length === 0) return;
    try {
      if (!this.#db.open) throw new StoreUnavailableError('sqlite', 'The SQLite store is closed: the write was not made.');
      // Alone, a write needs no savepoint: if it fails, the transaction is its own to roll back.
      const alone = items.length === 1;
      this.#nested(() => {
        for (const item of items) {
          for (const b of item.boarded) b.before?.();
          const run = () => {
            const value = item.fn();
            for (const b of item.boarded) b.after?.(value);
            return value;
          };
          try {
            item.outcome = { ok: true, value: alone ? run() : this.#nested(run) };
          } catch (error) {
            // A failure that ended the whole transaction (SQLite does after SQLITE_FULL, IOERR…) fails the group:
            // what ran before it is gone, and what follows must not run outside a transaction.
            if (alone || !this.#db.inTransaction) throw error;
            item.outcome = { ok: false, error };
          }
        }
      });
    } catch (err) {
      // Nothing was stored (busy past the timeout, a failed commit, or the lone write threw).
      // Last first: each puts what waited back at the front of the queue, so the order is kept.
      for (const item of [...items].reverse()) for (const b of item.boarded) b.rolledBack();
      for (const item of items) {
        item.outcome = item.outcome && !item.outcome.ok ? item.outcome : { ok: false, error: err };
        item.settle?.(item);
      }
      return;
    }
    for (const item of items) {
      for (const b of item.boarded) b.committed();
      item.settle?.(item);
    }
  }

  #nested<T>(fn: () => T): T {
    this.#depth++;
    try {
      return this.#db.transaction(fn);
    } finally {
      this.#depth--;
    }
  }

  close(): void {
    // What is queued is committed (or fails) before the connection goes.
    if (this.#db.open) this.#commit();
    this.#db.close();
  }
}
