/**
 * Waiting for state that lives in the store. A change made in this process wakes waiters at once
 * (`notify`); a change made by another process sharing the database is seen on the next poll.
 */
export class Watch {
  readonly #pollMs: number;
  readonly #wakers = new Set<() => void>();
  #generation = 0;
  #closed = false;

  constructor(pollMs: number) {
    this.#pollMs = pollMs;
  }

  /** Something changed: every waiter looks again now. */
  notify(): void {
    this.#generation++;
    for (const wake of [...this.#wakers]) wake();
  }

  /** Stops every waiter (they reject); used when the engine closes. */
  close(): void {
    this.#closed = true;
    this.notify();
  }

  /**
   * Resolves with the first value `check` returns that is not undefined. Looks again on every
   * `notify` and every poll interval; rejects when `signal` aborts (with its reason) or on `close`.
   */
  async until<T>(check: () => Promise<T | undefined>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#closed) throw new WatchClosedError();
      const generation = this.#generation;
      const value = await check();
      if (value !== undefined) return value;
      if (generation !== this.#generation) continue;
      await this.#sleep(signal);
    }
  }

  #sleep(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      // A ref'd timer: a process waiting on a person stays alive until the answer comes.
      const timer = setTimeout(done, this.#pollMs);
      this.#wakers.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export class WatchClosedError extends Error {
  constructor() {
    super('Switchboard was closed while waiting.');
    this.name = 'WatchClosedError';
  }
}
