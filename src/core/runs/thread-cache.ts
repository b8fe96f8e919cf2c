import type { Message, Store } from '../store/types.js';
import { estimateTokens } from './budget.js';

/**
 * The cached tail of one thread, held by a run while it works on the thread. The holder reads
 * `messages` and records what it writes with `append`; the cache never drops or replaces a tail
 * somebody holds, so what a run wrote is always in the tail it reads.
 */
export interface ThreadTail {
  readonly threadId: string;
  /** The recent messages of the thread, in seq order. */
  readonly messages: readonly Message[];
  /** Estimated tokens of each message, parallel to `messages`. */
  readonly tokens: readonly number[];
  /** Records messages this process just wrote to the thread. */
  append(messages: readonly Message[]): void;
  /** Drops the oldest messages beyond `keepTokens`, keeping tool-call units whole. */
  trim(keepTokens: number): void;
  /** Re-reads the tail from the store (when the holder has reason to doubt it). */
  reload(): Promise<void>;
  /** The holder is done with the thread; idempotent. */
  release(): void;
}

class Entry {
  messages: Message[] = [];
  tokens: number[] = [];
  lastSeq = 0;
  /** Holders (runs) using this entry: while above 0 it is never evicted. */
  refs = 0;
  /** Settles once the first read from the store is in. */
  ready: Promise<void> = Promise.resolve();

  constructor(readonly threadId: string) {}

  reset(messages: Message[]): void {
    this.messages = messages;
    this.tokens = messages.map(estimateTokens);
    this.lastSeq = messages.at(-1)?.seq ?? 0;
  }

  push(m: Message): void {
    if (m.seq > this.lastSeq) {
      this.messages.push(m);
      this.tokens.push(estimateTokens(m));
      this.lastSeq = m.seq;
      return;
    }
    // Concurrent writers (parallel tool results) may report out of seq order: insert in place.
    let i = this.messages.length;
    while (i > 0 && this.messages[i - 1]!.seq > m.seq) i--;
    if (i > 0 && this.messages[i - 1]!.seq === m.seq) return;
    if (i === 0 && this.messages.length > 0) return; // older than the cached tail: not needed
    this.messages.splice(i, 0, m);
    this.tokens.splice(i, 0, estimateTokens(m));
  }

  trim(keepTokens: number): void {
    if (this.messages.length < 64) return;
    let total = 0;
    for (const t of this.tokens) total += t;
    if (total <= keepTokens) return;
    let drop = 0;
    while (total > keepTokens && drop < this.messages.length - 1) total -= this.tokens[drop++]!;
    while (drop < this.messages.length && this.messages[drop]!.role === 'tool') drop++;
    this.messages.splice(0, drop);
    this.tokens.splice(0, drop);
  }
}

/**
 * Keeps the recent tail of each thread in memory so a model call never re-reads a whole thread.
 * Each `acquire` catches up with messages other processes appended (one indexed query from the last
 * known seq); a tail keeps only what a context budget can use, so memory does not grow with a thread.
 *
 * Threads in use are pinned: only tails nobody holds are forgotten, least recently released first,
 * beyond `maxThreads`. (Forgetting a tail a run still held once made its writes go nowhere: the run
 * never saw its own tool results and ran the same call again without end.)
 */
export class ThreadCache {
  readonly #entries = new Map<string, Entry>();
  /** Entries nobody holds, least recently released first (Map order is insertion order). */
  readonly #idle = new Map<string, Entry>();
  readonly #store: Store;
  readonly #maxThreads: number;
  /** How many messages to read from the store for a thread not yet cached. */
  readonly #initialTail: number;

  constructor(store: Store, opts: { maxThreads?: number; initialTail?: number } = {}) {
    this.#store = store;
    this.#maxThreads = Math.max(0, opts.maxThreads ?? 2_000);
    this.#initialTail = opts.initialTail ?? 400;
  }

  /** Threads cached now: those held plus up to `maxThreads` idle ones. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cached tail of the thread, brought up to date with the store and pinned until `release`.
   * `newest` is a message the caller just wrote to the thread (a claim's input): every message before
   * it has a lower seq, so when the cache already ends right before it, or it is the thread's first,
   * the tail is known complete without a read.
   */
  async acquire(threadId: string, newest?: Pick<Message, 'seq'> | null): Promise<ThreadTail> {
    let entry = this.#entries.get(threadId);
    let fresh = false;
    if (!entry) {
      entry = new Entry(threadId);
      this.#entries.set(threadId, entry);
      fresh = true;
      // A thread whose first message the caller just wrote had nothing before it: no read.
      if (newest?.seq !== 1) entry.ready = this.#read(entry);
    }
    this.#idle.delete(threadId);
    entry.refs++;
    const tail = this.#tail(entry);
    try {
      await entry.ready;
      const complete = fresh || (newest != null && entry.lastSeq >= newest.seq - 1);
      if (!complete) for (const m of await this.#store.listMessages(threadId, { afterSeq: entry.lastSeq })) entry.push(m);
    } catch (err) {
      tail.release();
      throw err;
    }
    return tail;
  }

  #read(entry: Entry): Promise<void> {
    return this.#store.tailMessages(entry.threadId, this.#initialTail).then(
      (messages) => entry.reset(messages),
      (err: unknown) => {
        // A first read that failed leaves nothing worth keeping: the next acquire reads again.
        this.#forget(entry);
        throw err;
      },
    );
  }

  #tail(entry: Entry): ThreadTail {
    let released = false;
    return {
      threadId: entry.threadId,
      get messages() {
        return entry.messages;
      },
      get tokens() {
        return entry.tokens;
      },
      append: (messages) => {
        for (const m of messages) entry.push(m);
      },
      trim: (keepTokens) => entry.trim(keepTokens),
      reload: async () => {
        entry.reset(await this.#store.tailMessages(entry.threadId, this.#initialTail));
      },
      release: () => {
        if (released) return;
        released = true;
        if (--entry.refs > 0 || this.#entries.get(entry.threadId) !== entry) return;
        this.#idle.set(entry.threadId, entry);
        while (this.#idle.size > this.#maxThreads) this.#forget(this.#idle.values().next().value!);
      },
    };
  }

  #forget(entry: Entry): void {
    this.#idle.delete(entry.threadId);
    if (this.#entries.get(entry.threadId) === entry) this.#entries.delete(entry.threadId);
  }
}
