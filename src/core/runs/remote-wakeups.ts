import { RUN_END_TYPES, type EventBus, type StoredEvent } from '../events.js';
import type { RunExecutor } from './executor.js';
import { CancelSignal } from './signals.js';

export interface WakeupHooks {
  closed(): boolean;
  /** Whether someone here waits for this run. */
  waitedFor(runId: string): boolean;
  /** Read the run and settle its waiters. */
  settle(runId: string): void;
  /** A run ended elsewhere: threads it held may be free for runs queued here. */
  threadFreed(): void;
  /** Work was queued elsewhere (a drain here may be working through its thread). */
  queued(runId: string): void;
}

/**
 * What another process's stored events mean to the engine here: a run it executes under one here
 * made progress (not a stall), a run someone here waits for ended, a thread may be free, a run here
 * was cancelled, or work was queued on a thread a drain here is working through.
 */
export class RemoteWakeups {
  readonly #bus: EventBus;
  readonly #executor: RunExecutor;
  readonly #hooks: WakeupHooks;
  #off: (() => void) | null = null;
  /** Runs other processes ended lately: a waiter that arrives just after the event still hears of it. */
  readonly #ended = new Set<string>();

  constructor(bus: EventBus, executor: RunExecutor, hooks: WakeupHooks) {
    this.#bus = bus;
    this.#executor = executor;
    this.#hooks = hooks;
  }

  get listening(): boolean {
    return this.#off !== null;
  }

  listen(): void {
    this.#off ??= this.#bus.remote((e) => this.#on(e));
  }

  stop(): void {
    this.#off?.();
    this.#off = null;
  }

  endedElsewhere(runId: string): boolean {
    return this.#ended.has(runId);
  }

  #on(e: StoredEvent): void {
    if (this.#hooks.closed()) return;
    this.#executor.touch(e.parentRunId);
    this.#executor.touch(e.rootRunId);
    if (RUN_END_TYPES.has(e.type)) {
      if (this.#ended.size >= 1_000) this.#ended.clear();
      this.#ended.add(e.runId);
      if (e.type === 'run.cancelled' && this.#executor.isActive(e.runId)) this.#executor.abort(e.runId, new CancelSignal(e.reason, true));
      if (this.#hooks.waitedFor(e.runId)) this.#hooks.settle(e.runId);
      this.#hooks.threadFreed();
    } else if (e.type === 'run.queued') {
      this.#hooks.queued(e.runId);
    }
  }
}
