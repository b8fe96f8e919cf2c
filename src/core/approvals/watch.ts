import { ClosedError } from '../errors.js';
import type { EventBus } from '../events.js';

/** How often a waiter looks again when other processes' changes are pushed (a safety net only). */
const LIVE_FALLBACK_MS = 5_000;
/** Other processes' events that may change what a waiter waits for (approvals, plans, runs ending). */
const WAKING = /^(approval\.|plan\.|run\.(completed|failed|cancelled|requires_action))/;

/**
 * Waiting for state that lives in the store. A change made in this process wakes waiters at once
 * (`notify`); a change made by another process wakes them through its stored event (PostgreSQL
 * pushes it; SQLite polls the events table) and, as a safety net, on the next poll.
 */
export class Watch {
  readonly #pollMs: number;
  readonly #wakers = new Set<() => void>();
  readonly #bus: EventBus | undefined;
  #remoteOff: (() => void) | null = null;
  /** `until` calls under way: other processes' events are listened to while there are any. */
  #waiting = 0;
  #generation = 0;
  #closed = false;

  constructor(pollMs: number, bus?: EventBus) {
    this.#pollMs = pollMs;
    this.#bus = bus;
  }

  /** Other processes' events wake waiters only while there are any. */
  #listen(): void {
    if (this.#remoteOff || !this.#bus) return;
    this.#remoteOff = this.#bus.remote((e) => {
      if (WAKING.test(e.type)) this.notify();
    });
  }

  #unlisten(): void {
    if (this.#waiting > 0) return;
    this.#remoteOff?.();
    this.#remoteOff = null;
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
    this.#remoteOff?.();
    this.#remoteOff = null;
  }

  /**
   * Resolves with the first value `check` returns that is not undefined. Looks again on every
   * `notify` and every poll interval; rejects when `signal` aborts (with its reason) or on `close` (ClosedError).
   */
  async until<T>(check: () => Promise<T | undefined>, signal?: AbortSignal): Promise<T> {
    this.#waiting++;
    this.#listen();
    try {
      return await this.#loop(check, signal);
    } finally {
      this.#waiting--;
      this.#unlisten();
    }
  }

  async #loop<T>(check: () => Promise<T | undefined>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#closed) throw new ClosedError();
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
      const timer = setTimeout(done, this.#bus?.log?.live && this.#remoteOff ? Math.max(this.#pollMs, LIVE_FALLBACK_MS) : this.#pollMs);
      this.#wakers.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
