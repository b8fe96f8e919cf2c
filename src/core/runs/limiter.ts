/**
 * At most `size` tasks at once; the rest wait their turn, first come first served. Used for model
 * calls: each holds a connection (a file descriptor) for its whole stream, and a process serving
 * thousands of conversations at once would otherwise open one per conversation and run out of them.
 */
export class Limiter {
  #free: number;
  /**
   * Turns waiting, oldest at `#head`; a waiter that gave up leaves a null. Taken from the front by
   * index rather than `shift()`, which copies the whole array once it is large (tens of thousands
   * of runs waiting made each turn cost ~0.1 ms).
   */
  #queue: ((() => void) | null)[] = [];
  #head = 0;
  #waiting = 0;

  constructor(readonly size: number) {
    this.#free = Math.max(1, Math.floor(size));
  }

  /** Tasks waiting for a turn now. */
  get waiting(): number {
    return this.#waiting;
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head];
      this.#queue[this.#head++] = null;
      if (next) {
        this.#waiting--;
        this.#compact();
        next();
        return;
      }
    }
    this.#compact();
    this.#free++;
  }

  /** Drops the taken front of the queue once it is most of the array (amortized O(1) per turn). */
  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(turn, this.#head);
        if (i >= 0) {
          this.#queue[i] = null;
          this.#waiting--;
        }
        reject(signal!.reason);
      };
      this.#queue.push(turn);
      this.#waiting++;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
