import type { Run, Store } from '../store/types.js';

/**
 * Who in this process waits for which run to end. The engine settles them when it sees a run end
 * (here, or through another process's event or its polls); a waiter whose signal aborts stops waiting.
 */
export class RunWaiters {
  readonly #waiters = new Map<string, Set<Waiter>>();

  get size(): number {
    return this.#waiters.size;
  }

  has(runId: string): boolean {
    return this.#waiters.has(runId);
  }

  ids(): string[] {
    return [...this.#waiters.keys()];
  }

  /** Resolves with the run once `settle` is told it ended; with `signal`, rejects with its reason once it aborts. */
  add(runId: string, signal?: AbortSignal): Promise<Run> {
    return new Promise<Run>((resolve, reject) => {
      const list = this.#waiters.get(runId) ?? new Set();
      const onAbort = () => {
        list.delete(done);
        if (list.size === 0 && this.#waiters.get(runId) === list) this.#waiters.delete(runId);
        reject(signal!.reason);
      };
      const done: Waiter = (ended) => {
        signal?.removeEventListener('abort', onAbort);
        if (ended instanceof Error) reject(ended);
        else resolve(ended);
      };
      list.add(done);
      this.#waiters.set(runId, list);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves everyone waiting for this run with it. */
  settle(run: Run): void {
    const list = this.#waiters.get(run.id);
    if (!list) return;
    this.#waiters.delete(run.id);
    for (const resolve of list) resolve(run);
  }

  /** Rejects every waiter with `err` (the engine closed: nothing here will see their runs end). */
  rejectAll(err: Error): void {
    const lists = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const list of lists) for (const done of list) done(err);
  }
}

/** Told how the awaited run ended, or why nobody here will know. */
type Waiter = (ended: Run | Error) => void;

/** The runs with these ids, in one query where the store can. */
export async function readRuns(store: Store, ids: string[]): Promise<(Run | null)[]> {
  if (ids.length === 0) return [];
  return store.getRuns ? store.getRuns(ids) : Promise.all(ids.map((id) => store.getRun(id)));
}
