import type { EventListener, SwitchboardEvent } from '../events.js';
import type { StoredEvent } from './log.js';

export interface StreamSource {
  subscribe(listener: EventListener): () => void;
  /** Null without an event log: the stream is live only and events carry no `seq`. */
  readAfter: ((after: number, limit: number) => Promise<StoredEvent[]>) | null;
}

const PAGE = 500;

/**
 * Replay, then follow, without gaps or repeats. It subscribes first (buffering what arrives), then
 * replays the log after the cursor, then hands out the buffer, dropping stored events it already
 * handed out (by `seq`). A stored event whose `seq` jumps ahead (an earlier one is still on its way
 * from another process) makes it read the missing ones from the log first. Best-effort events
 * (no `seq`) pass straight through.
 */
export class FollowStream implements AsyncIterator<SwitchboardEvent> {
  readonly #source: StreamSource;
  readonly #signal?: AbortSignal;
  readonly #incoming: SwitchboardEvent[] = [];
  readonly #ready: SwitchboardEvent[] = [];
  readonly #unsubscribe: () => void;
  #last: number | undefined;
  #replay: boolean;
  #wake: (() => void) | null = null;
  #done = false;

  constructor(source: StreamSource, opts: { after?: number; signal?: AbortSignal }) {
    this.#source = source;
    this.#signal = opts.signal;
    this.#last = opts.after;
    this.#replay = opts.after !== undefined && source.readAfter !== null;
    this.#unsubscribe = source.subscribe((e) => {
      this.#incoming.push(e);
      this.#wake?.();
    });
    this.#signal?.addEventListener('abort', this.#finish, { once: true });
    if (this.#signal?.aborted) this.#finish();
  }

  readonly #finish = (): void => {
    this.#done = true;
    this.#unsubscribe();
    this.#signal?.removeEventListener('abort', this.#finish);
    this.#wake?.();
  };

  async next(): Promise<IteratorResult<SwitchboardEvent>> {
    for (;;) {
      if (this.#done) return { value: undefined, done: true };
      if (this.#ready.length > 0) return { value: this.#ready.shift()!, done: false };
      if (this.#replay) {
        this.#replay = false;
        await this.#readFrom(this.#last ?? 0, Infinity);
        continue;
      }
      const event = this.#incoming.shift();
      if (event) {
        await this.#take(event);
        continue;
      }
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = null;
    }
  }

  async return(): Promise<IteratorResult<SwitchboardEvent>> {
    this.#finish();
    return { value: undefined, done: true };
  }

  async #take(event: SwitchboardEvent): Promise<void> {
    const seq = event.seq;
    if (seq === undefined || !this.#source.readAfter) {
      this.#ready.push(event);
      return;
    }
    if (this.#last !== undefined && seq <= this.#last) return; // replayed already
    if (this.#last !== undefined && seq > this.#last + 1) {
      await this.#readFrom(this.#last, seq); // the missing ones, and this one, from the log
      if (this.#last >= seq) return;
    }
    this.#last = seq;
    this.#ready.push(event);
  }

  /** Reads stored events after `after` into the ready queue, up to `until` (inclusive) or the end. */
  async #readFrom(after: number, until: number): Promise<void> {
    let cursor = after;
    for (;;) {
      const page = await this.#source.readAfter!(cursor, PAGE);
      for (const e of page) {
        if (e.seq > until) return;
        this.#ready.push(e);
        cursor = this.#last = e.seq;
      }
      if (page.length < PAGE || this.#done) return;
    }
  }
}
