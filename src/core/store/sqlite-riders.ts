import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';

/**
 * Writes that need no transaction of their own (stored events) ride along with the next one the
 * connection opens: one commit instead of one each, which on a busy engine is most of a write's cost.
 */
export interface TransactionRider {
  /**
   * Called inside the outermost transaction, before its own work: writes what is waiting and returns
   * what to do once the transaction's work is done (`after`, still inside it, with its result) and once
   * it committed or rolled back (nothing to do: null).
   */
  board(): Boarding | null;
}

export interface Boarding {
  after?(result: unknown): void;
  committed(): void;
  rolledBack(): void;
}

/** A connection whose outermost transactions take riders along. */
export class RidingDatabase implements SqliteDatabase {
  readonly #db: SqliteDatabase;
  readonly #riders: TransactionRider[] = [];
  #depth = 0;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  get driver(): SqliteDatabase['driver'] {
    return this.#db.driver;
  }

  get open(): boolean {
    return this.#db.open;
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

  transaction<T>(fn: () => T): T {
    if (this.#depth > 0 || this.#riders.length === 0) return this.#nested(fn);
    const boarded: Boarding[] = [];
    let result: T;
    try {
      result = this.#nested(() => {
        for (const rider of this.#riders) {
          const b = rider.board();
          if (b) boarded.push(b);
        }
        const r = fn();
        for (const b of boarded) b.after?.(r);
        return r;
      });
    } catch (err) {
      for (const b of boarded) b.rolledBack();
      throw err;
    }
    for (const b of boarded) b.committed();
    return result;
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
    this.#db.close();
  }
}
