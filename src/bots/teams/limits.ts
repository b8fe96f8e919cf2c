/**
 * Teams' documented limits for a bot, enforced before we call (so a busy tenant does not earn a 429
 * storm) and honoured after (Retry-After). Per conversation ("per bot per thread"): 7 operations a
 * second, 8 per 2 s, 60 per 30 s, 1,800 per hour; per tenant we keep below 50 a second for the app.
 * Time comes from an injected clock, so tests drive it without waiting.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface Window {
  count: number;
  ms: number;
}

export const PER_CONVERSATION: readonly Window[] = [
  { count: 7, ms: 1_000 },
  { count: 8, ms: 2_000 },
  { count: 60, ms: 30_000 },
  { count: 1_800, ms: 3_600_000 },
];
export const PER_TENANT: readonly Window[] = [{ count: 50, ms: 1_000 }];

/** Sliding windows per key: `reserve` returns how long to wait before the call may go (and books it then). */
export class SlidingLimiter {
  readonly #calls = new Map<string, number[]>();
  readonly #windows: readonly Window[];
  readonly #longest: number;
  constructor(windows: readonly Window[]) {
    this.#windows = windows;
    this.#longest = Math.max(...windows.map((w) => w.ms));
  }

  /** Milliseconds until a call under `key` fits every window, starting at `now`. */
  delay(key: string, now: number): number {
    const calls = this.#prune(key, now);
    let wait = 0;
    for (const w of this.#windows) {
      const inWindow = calls.filter((t) => t > now - w.ms);
      if (inWindow.length >= w.count) wait = Math.max(wait, inWindow[inWindow.length - w.count]! + w.ms - now);
    }
    return wait;
  }

  book(key: string, at: number): void {
    const calls = this.#prune(key, at);
    calls.push(at);
  }

  #prune(key: string, now: number): number[] {
    let calls = this.#calls.get(key);
    if (!calls) this.#calls.set(key, (calls = []));
    while (calls.length && calls[0]! <= now - this.#longest) calls.shift();
    if (calls.length === 0) this.#calls.delete(key);
    return calls.length === 0 ? (this.#calls.set(key, calls), calls) : calls;
  }
}

/** Retry-After as seconds or an HTTP date, in ms; null when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, now: number): number | null {
  if (!value) return null;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}
