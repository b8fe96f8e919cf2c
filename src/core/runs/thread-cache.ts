import type { Message, Store } from '../store/types.js';
import { estimateTokens } from './budget.js';

interface Entry {
  messages: Message[];
  tokens: number[];
  lastSeq: number;
}

/**
 * Keeps the recent tail of each thread in memory so a model call never re-reads a whole thread.
 * Before a run it catches up with messages other processes appended (one indexed query from the
 * last known seq); it keeps only what a context budget can use, so memory does not grow with a
 * thread, and it forgets the least recently used threads beyond `maxThreads`.
 */
export class ThreadCache {
  readonly #entries = new Map<string, Entry>();
  readonly #store: Store;
  readonly #maxThreads: number;
  /** How many messages to read from the store for a thread not yet cached. */
  readonly #initialTail: number;

  constructor(store: Store, opts: { maxThreads?: number; initialTail?: number } = {}) {
    this.#store = store;
    this.#maxThreads = opts.maxThreads ?? 2_000;
    this.#initialTail = opts.initialTail ?? 400;
  }

  /** The cached tail of the thread, brought up to date with the store. */
  async load(threadId: string): Promise<Entry> {
    let entry = this.#entries.get(threadId);
    if (!entry) {
      const messages = await this.#store.tailMessages(threadId, this.#initialTail);
      entry = { messages, tokens: messages.map(estimateTokens), lastSeq: messages.at(-1)?.seq ?? 0 };
    } else {
      this.#entries.delete(threadId); // re-inserted below: Map order is our LRU order
      const newer = await this.#store.listMessages(threadId, { afterSeq: entry.lastSeq });
      for (const m of newer) this.#push(entry, m);
    }
    this.#entries.set(threadId, entry);
    if (this.#entries.size > this.#maxThreads) this.#entries.delete(this.#entries.keys().next().value!);
    return entry;
  }

  /** Records messages this process just wrote. */
  append(threadId: string, messages: Message[]): void {
    const entry = this.#entries.get(threadId);
    if (!entry) return;
    for (const m of messages) this.#push(entry, m);
  }

  /** Drops the oldest messages beyond `keepTokens`, keeping tool-call units whole. */
  trim(threadId: string, keepTokens: number): void {
    const entry = this.#entries.get(threadId);
    if (!entry || entry.messages.length < 64) return;
    let total = 0;
    for (const t of entry.tokens) total += t;
    if (total <= keepTokens) return;
    let drop = 0;
    while (total > keepTokens && drop < entry.messages.length - 1) total -= entry.tokens[drop++]!;
    while (drop < entry.messages.length && entry.messages[drop]!.role === 'tool') drop++;
    entry.messages.splice(0, drop);
    entry.tokens.splice(0, drop);
  }

  #push(entry: Entry, m: Message): void {
    if (m.seq > entry.lastSeq) {
      entry.messages.push(m);
      entry.tokens.push(estimateTokens(m));
      entry.lastSeq = m.seq;
      return;
    }
    // Concurrent writers (parallel tool results) may report out of seq order: insert in place.
    let i = entry.messages.length;
    while (i > 0 && entry.messages[i - 1]!.seq > m.seq) i--;
    if (i > 0 && entry.messages[i - 1]!.seq === m.seq) return;
    if (i === 0 && entry.messages.length > 0) return; // older than the cached tail: not needed
    entry.messages.splice(i, 0, m);
    entry.tokens.splice(i, 0, estimateTokens(m));
  }
}
