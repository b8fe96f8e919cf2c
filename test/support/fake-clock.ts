/**
 * A clock tests move by hand: `sleep` resolves only when `advance` passes its deadline, so limits
 * measured in seconds or minutes are tested without waiting and without timing assertions.
 */
export class FakeClock {
  #now: number;
  #timers: { at: number; resolve: () => void; signal?: AbortSignal }[] = [];
  readonly sleeps: number[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now = (): number => this.#now;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    this.sleeps.push(ms);
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = { at: this.#now + ms, resolve, ...(signal ? { signal } : {}) };
      this.#timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.#timers = this.#timers.filter((t) => t !== timer);
          resolve();
        },
        { once: true },
      );
    });
  };

  /** Pending sleeps (not aborted). */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward, waking sleepers in deadline order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      await flush();
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (!next || next.at > until) break;
      this.#timers.shift();
      this.#now = next.at;
      next.resolve();
    }
    this.#now = until;
    await flush();
  }
}

/** Lets pending promise continuations and I/O callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
