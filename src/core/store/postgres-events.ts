import { randomUUID } from 'node:crypto';
import type { SwitchboardEvent } from '../events.js';
import { RemoteListeners, eventColumns, toStoredEvent, type EventLog, type StoredEvent } from '../events/log.js';
import { PostgresNotifications } from './postgres-notify.js';
import type { PgMigration } from './postgres-migrations.js';
import type { PostgresStore } from './postgres.js';

export const eventPostgresMigrations: PgMigration[] = [
  {
    version: 30,
    name: 'events: stored lifecycle events, numbered per conversation',
    sql: `
CREATE TABLE events (
  id              BIGSERIAL PRIMARY KEY,
  conversation_id TEXT NOT NULL,
  seq             BIGINT NOT NULL,
  origin          TEXT NOT NULL,
  type            TEXT NOT NULL,
  run_id          TEXT NOT NULL,
  root_run_id     TEXT NOT NULL,
  at              BIGINT NOT NULL,
  data            JSONB NOT NULL,
  UNIQUE (conversation_id, seq)
);
CREATE INDEX events_root_run ON events (root_run_id, id);
-- The last seq per conversation: its row lock serialises appends to one conversation across replicas,
-- and is held until commit, so events commit (and are notified) in seq order.
CREATE TABLE event_seqs (
  conversation_id TEXT PRIMARY KEY,
  seq             BIGINT NOT NULL
);
`,
  },
];

/**
 * The event log in the PostgreSQL database (and schema) of the core store. One statement numbers,
 * inserts and announces an event (`pg_notify` with "origin, conversation, seq", sent at commit); a
 * dedicated connection LISTENs (see PostgresNotifications) and reads the rows a notification points
 * at, so replicas see each other's events without polling.
 */
export class PostgresEventLog implements EventLog {
  readonly live = true;
  readonly origin: string;
  readonly #store: PostgresStore;
  readonly #notifications: PostgresNotifications;
  readonly #remote: RemoteListeners;
  /** Highest seq read per conversation on behalf of remote listeners. */
  readonly #seen = new Map<string, number>();
  readonly #chains = new Map<string, Promise<void>>();

  constructor(store: PostgresStore, opts: { origin?: string } = {}) {
    this.#store = store;
    this.origin = opts.origin ?? randomUUID();
    this.#notifications = new PostgresNotifications(store.pool.options, channelFor(store.schema), {
      onMessage: (payload) => this.#onNotify(payload),
      onReconnect: () => this.#catchUp(),
    });
    this.#remote = new RemoteListeners(() => this.#notifications.start(), () => {});
  }

  async init(): Promise<void> {
    await this.#store.migrate(eventPostgresMigrations);
  }

  /** Resolves once the LISTEN is in place (tests wait for it before another replica starts). */
  listening(): Promise<void> {
    return this.#notifications.listening();
  }

  /** Appends still in flight per conversation: the next waits, so a conversation's events are numbered in the order appended. */
  readonly #appending = new Map<string, Promise<unknown>>();

  append(event: SwitchboardEvent): Promise<number> {
    const key = event.conversationId;
    const next = (this.#appending.get(key) ?? Promise.resolve()).then(
      () => this.#insert(event),
      () => this.#insert(event),
    );
    this.#appending.set(key, next);
    const clear = () => {
      if (this.#appending.get(key) === next) this.#appending.delete(key);
    };
    next.then(clear, clear);
    return next;
  }

  async #insert(event: SwitchboardEvent): Promise<number> {
    const c = eventColumns(event);
    const res = await this.#store.pool.query<{ seq: string }>(
      `WITH s AS (
         INSERT INTO event_seqs (conversation_id, seq) VALUES ($1, 1)
         ON CONFLICT (conversation_id) DO UPDATE SET seq = event_seqs.seq + 1 RETURNING seq
       ), e AS (
         INSERT INTO events (conversation_id, seq, origin, type, run_id, root_run_id, at, data)
         SELECT $1, s.seq, $2, $3, $4, $5, $6, $7::jsonb FROM s RETURNING seq
       )
       SELECT e.seq, pg_notify($8, $2::text || chr(9) || $1::text || chr(9) || e.seq::text) FROM e`,
      [c.conversationId, this.origin, c.type, c.runId, c.rootRunId, c.at, c.data, channelFor(this.#store.schema)],
    );
    return Number(res.rows[0]!.seq);
  }

  async readAfter(conversationId: string, after: number, limit = 500): Promise<StoredEvent[]> {
    const res = await this.#store.pool.query<{ seq: string; data: unknown }>(
      'SELECT seq, data FROM events WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [conversationId, after, limit],
    );
    return res.rows.map((r) => toStoredEvent(r.data, r.seq));
  }

  remote(listener: (event: StoredEvent) => void): () => void {
    return this.#remote.add(listener);
  }

  async close(): Promise<void> {
    await this.#notifications.close();
  }

  #onNotify(payload: string): void {
    const [origin, conversationId, seqText] = payload.split('\t');
    if (!conversationId || origin === this.origin || this.#remote.size === 0) return;
    const seq = Number(seqText);
    // A conversation first heard of now: from this event on (listeners read the past themselves).
    this.#readRemote(conversationId, this.#seen.get(conversationId) ?? seq - 1, seq);
  }

  /** After a reconnect: what the conversations already followed gained while nobody listened. */
  #catchUp(): void {
    for (const [conversationId, seen] of this.#seen) this.#readRemote(conversationId, seen, Number.MAX_SAFE_INTEGER);
  }

  /** Reads and delivers other processes' events of one conversation in (from, until], in order. */
  #readRemote(conversationId: string, from: number, until: number): void {
    const next = (this.#chains.get(conversationId) ?? Promise.resolve())
      .then(async () => {
        const after = Math.max(from, this.#seen.get(conversationId) ?? from);
        if (after >= until) return;
        const res = await this.#store.pool.query<{ seq: string; data: unknown }>(
          'SELECT seq, data FROM events WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 AND origin <> $4 ORDER BY seq',
          [conversationId, after, until, this.origin],
        );
        if (this.#seen.size > 10_000) this.#seen.clear();
        const last = res.rows.length > 0 ? Number(res.rows[res.rows.length - 1]!.seq) : after;
        this.#seen.set(conversationId, until === Number.MAX_SAFE_INTEGER ? last : Math.max(until, last));
        for (const r of res.rows) this.#remote.deliver(toStoredEvent(r.data, r.seq));
      })
      .catch(() => {
        // The pool failed (a restart): the next notification reads from the same point again.
      });
    this.#chains.set(conversationId, next);
    void next.then(() => {
      if (this.#chains.get(conversationId) === next) this.#chains.delete(conversationId);
    });
  }
}

/** One channel per schema, so test schemas (and deployments sharing a database) do not hear each other. */
function channelFor(schema: string): string {
  return `switchboard_events_${schema}`.slice(0, 63);
}

export function postgresEventLog(store: PostgresStore, opts?: { origin?: string }): PostgresEventLog {
  return new PostgresEventLog(store, opts);
}
