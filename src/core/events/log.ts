import type { SwitchboardEvent } from '../events.js';

/** A lifecycle event as the log keeps it: numbered within its conversation. */
export type StoredEvent = SwitchboardEvent & { seq: number };

/**
 * The stored half of the events: lifecycle events of every conversation, numbered per conversation
 * (1, 2, 3…) by the database so that processes sharing it never hand out the same number twice, and
 * the way other processes' events arrive here (PostgreSQL: LISTEN/NOTIFY; SQLite: a cheap poll of
 * the table, only while someone listens).
 */
export interface EventLog {
  /** True when other processes' events are pushed (no polling): callers may poll their own state less. */
  readonly live: boolean;
  /** Identifies this process's appends: `remote` delivers only the others'. */
  readonly origin: string;
  /** Creates the tables (migrations 30–39) on the store's connection. */
  init(): Promise<void>;
  /** Stores the event and returns its `seq`; atomic across processes. */
  append(event: SwitchboardEvent): Promise<number>;
  /**
   * Optional (SQLite): runs `write` and stores the events `build` makes from its result inside the
   * transaction the write opens (or queues) synchronously, so they exist exactly when the write does.
   * The store's write must hand its transaction the result its promise resolves with. `stored`
   * resolves once that committed, with the events and their seq; with null when the write opened no
   * transaction (the caller appends them the usual way once the write resolved) or rolled back.
   */
  during?<T>(write: () => Promise<T>, build: (result: T) => SwitchboardEvent[]): WriteWithEvents<T>;
  /** Stored events of a conversation with `seq > after`, oldest first (at most `limit`, default 500). */
  readAfter(conversationId: string, after: number, limit?: number): Promise<StoredEvent[]>;
  /** Events other processes store from now on, in order per conversation; returns the unsubscribe. */
  remote(listener: (event: StoredEvent) => void): () => void;
  /**
   * Optional (a log that polls: SQLite): hands other processes' events stored so far to the remote
   * listeners now, instead of at the next poll. Called by a waiter that saw, in the store, the effect of
   * such an event (a decision) before acting on it, so listeners here hear of the cause first.
   */
  catchUp?(): void;
  close(): Promise<void>;
}

/** A write and the events stored in its transaction (see EventLog.during); `stored` never rejects. */
export interface WriteWithEvents<T> {
  result: Promise<T>;
  stored: Promise<StoredEvent[] | null>;
}

/** A set of remote listeners that starts its source with the first and stops it with the last. */
export class RemoteListeners {
  readonly #listeners = new Set<(event: StoredEvent) => void>();
  readonly #start: () => void;
  readonly #stop: () => void;

  constructor(start: () => void, stop: () => void) {
    this.#start = start;
    this.#stop = stop;
  }

  get size(): number {
    return this.#listeners.size;
  }

  add(listener: (event: StoredEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      if (!this.#listeners.delete(listener)) return;
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  deliver(event: StoredEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // One broken listener must not starve the others.
      }
    }
  }
}

/** The row every dialect keeps; `data` is the whole event (JSON) without `seq`. */
export function eventColumns(event: SwitchboardEvent): { conversationId: string; type: string; runId: string; rootRunId: string; at: number; data: string } {
  return { conversationId: event.conversationId, type: event.type, runId: event.runId, rootRunId: event.rootRunId, at: event.at, data: JSON.stringify({ ...event, seq: undefined }) };
}

export function toStoredEvent(data: unknown, seq: number | string): StoredEvent {
  const event = (typeof data === 'string' ? JSON.parse(data) : data) as SwitchboardEvent;
  return { ...event, seq: Number(seq) } as StoredEvent;
}
