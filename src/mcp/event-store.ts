/**
 * The SDK's `EventStore` for one HTTP session: every message the server sends on an SSE stream gets
 * an event id, so a client that loses a stream mid-call reconnects with `Last-Event-ID` and gets
 * what it missed — the progress and the result of the call in flight (SEP-1699). In memory, like the
 * session itself, and bounded: at most `maxEvents` events and none older than `maxAgeMs`. A cursor
 * older than that cannot be resumed (the SDK answers 400); the call's run is still in the store, and
 * get_run finds it.
 */
import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export interface SessionEventStoreOptions {
  maxEvents?: number;
  maxAgeMs?: number;
  now?: () => number;
}

interface Stored {
  id: EventId;
  streamId: StreamId;
  message: JSONRPCMessage;
  at: number;
}

export const DEFAULT_MAX_EVENTS = 1_000;
export const DEFAULT_MAX_EVENT_AGE_MS = 5 * 60_000;

export class SessionEventStore implements EventStore {
  readonly #maxEvents: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  /** Oldest first; ids are `<seq>`, increasing, so an id's place is found by its number. */
  readonly #events: Stored[] = [];
  readonly #byId = new Map<EventId, Stored>();
  #seq = 0;

  constructor(opts: SessionEventStoreOptions = {}) {
    this.#maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.#maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_EVENT_AGE_MS;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#events.length;
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const stored: Stored = { id: String(++this.#seq), streamId, message, at: this.#now() };
    this.#events.push(stored);
    this.#byId.set(stored.id, stored);
    this.#prune();
    return stored.id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    this.#prune();
    return this.#byId.get(eventId)?.streamId;
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    this.#prune();
    const last = this.#byId.get(lastEventId);
    // The SDK asks getStreamIdForEventId first and answers 400 for an unknown id; this is for the race.
    if (!last) return '';
    for (const e of this.#events.slice()) {
      // Priming events (the SDK stores `{}` to hand out a first id) carry nothing to replay.
      if (e.streamId !== last.streamId || Number(e.id) <= Number(last.id) || !('jsonrpc' in e.message)) continue;
      await send(e.id, e.message);
    }
    return last.streamId;
  }

  #prune(): void {
    const oldest = this.#now() - this.#maxAgeMs;
    while (this.#events.length > 0 && (this.#events.length > this.#maxEvents || this.#events[0]!.at < oldest)) {
      this.#byId.delete(this.#events.shift()!.id);
    }
  }
}
