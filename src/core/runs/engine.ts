import { FINAL_RUN_STATUSES, type Message, type NewRun, type Run } from '../store/types.js';
import { RunExecutor, StallSignal, CancelSignal, type ExecutorDeps } from './executor.js';
import { adoptionTime, newLeaseOwner } from './lease-owner.js';
import { ThreadCache } from './thread-cache.js';

export interface EngineDeps extends Omit<ExecutorDeps, 'cache'> {
  /** How long a claim on a run holds without a heartbeat (another process may take it over after). */
  leaseMs?: number;
  /** How often to look for work other processes left (queued runs behind their runs, results of runs they took). */
  pollMs?: number;
  /** How many threads no run is using the thread cache keeps (threads in use are always kept). */
  cacheThreads?: number;
}

/**
 * Runs runs. Per thread, runs execute one at a time in the order they were queued (the store's
 * claim makes that hold across processes); different threads run concurrently. Callers queue a run
 * and wait for it; nobody ever gets a "thread is busy" error.
 */
export class RunEngine {
  /** Identifies this process's claims on runs. */
  readonly owner = newLeaseOwner();
  readonly #deps: EngineDeps;
  readonly #executor: RunExecutor;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  /** Threads being drained by this process; a kick during a drain asks for another pass. */
  readonly #draining = new Map<string, boolean>();
  /** Runs this process queued and has not seen start yet: their threads are re-tried on each poll. */
  readonly #queued = new Map<string, string>();
  readonly #waiters = new Map<string, ((run: Run) => void)[]>();
  /** Threads whose drain here is executing a run: it claims their next queued run when that one ends. */
  readonly #runningOn = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #lastRenew = 0;
  #closed = false;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.#leaseMs = deps.leaseMs ?? 30_000;
    this.#pollMs = deps.pollMs ?? 200;
    this.#executor = new RunExecutor({
      ...deps,
      cache: new ThreadCache(deps.store, { maxThreads: deps.cacheThreads }),
    });
  }

  /** Starts the heartbeat: lease renewal, stall detection and polling for other processes' work. */
  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => void this.#tick(), this.#pollMs);
    this.#timer.unref();
  }

  /**
   * Stops taking work. Runs still working are left as they are in the store (not cancelled): their
   * lease runs out and the next process to start resumes them.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#executor.shutdown();
    // Every loop has stopped: give up the leases so the next process resumes the runs at once.
    if (!this.#executor.hasActive()) await this.#deps.store.renewLeases(this.owner, 0).catch(() => {});
  }

  /**
   * Queues a run on its thread; it starts as soon as the thread is free. `id` lets a caller persist
   * the run's id before the run exists (plans do), so that a restart never creates it twice.
   */
  async enqueue(newRun: NewRun & { id?: string }): Promise<Run> {
    const { store, ids, events, clock } = this.#deps;
    const run = await store.createRun({ ...newRun, id: newRun.id ?? ids('run') });
    this.#queued.set(run.id, run.threadId);
    this.start();
    if (events.hasListeners(run.conversationId)) {
      events.emit({ type: 'run.queued', conversationId: run.conversationId, runId: run.id, agent: run.agent, depth: run.depth, at: clock() });
    }
    this.kick(run.threadId);
    return run;
  }

  /** Queues a run and resolves with it once it has ended (completed, failed or cancelled). */
  async runToEnd(newRun: NewRun): Promise<Run> {
    const run = await this.enqueue(newRun);
    return this.wait(run.id);
  }

  /** Resolves when the run has ended, wherever it runs (this process or another on the same store). */
  async wait(runId: string): Promise<Run> {
    const run = await this.#deps.store.getRun(runId);
    if (!run) throw new Error(`No run with id "${runId}".`);
    if (FINAL_RUN_STATUSES.includes(run.status)) return run;
    return new Promise<Run>((resolve) => {
      const list = this.#waiters.get(runId) ?? [];
      list.push(resolve);
      this.#waiters.set(runId, list);
      this.start();
      // Until the first heartbeat decides otherwise, a waiter keeps the process alive (the run may be another process's).
      this.#timer?.ref();
    });
  }

  /** Cancels a queued or running run and, through its signal, the delegations under it. */
  async cancel(runId: string, reason = 'cancelled'): Promise<Run> {
    const { store } = this.#deps;
    if (this.#executor.abort(runId, new CancelSignal(reason))) return this.wait(runId);
    const run = await store.getRun(runId);
    if (!run) throw new Error(`No run with id "${runId}".`);
    if (FINAL_RUN_STATUSES.includes(run.status)) return run;
    // Queued, or held by another process: mark it; the holder sees it on its next step.
    const ended = await store.updateRun(runId, { status: 'cancelled', error: reason, endedAt: this.#deps.clock() });
    this.#queued.delete(runId);
    this.#settle(ended);
    for (const child of await store.listRuns({ parentRunId: runId })) {
      if (!FINAL_RUN_STATUSES.includes(child.status)) await this.cancel(child.id, reason);
    }
    this.kick(run.threadId);
    return ended;
  }

  /** Starts the next queued run of the thread when it is free; keeps going until the queue is empty. */
  kick(threadId: string): void {
    if (this.#closed) return;
    if (this.#draining.has(threadId)) {
      this.#draining.set(threadId, true);
      return;
    }
    this.#draining.set(threadId, false);
    void this.#drain(threadId);
  }

  /**
   * Picks up work a dead process left behind: active runs (working, or waiting for a person) whose
   * lease expired, or whose owner was a process on this host that no longer exists, are resumed from
   * their last persisted step; queued runs are started. Called at start-up and on the heartbeat.
   */
  async resumeOrphans(): Promise<number> {
    const { store, clock } = this.#deps;
    const now = clock();
    let resumed = 0;
    const threads = new Set<string>();
    for (const run of await store.listOrphanedRuns(now)) if (run.status === 'queued') threads.add(run.threadId);
    // Oldest first, so a parent is active again before its delegations resume under it.
    for (const run of await store.listRuns({ statuses: ['in_progress', 'requires_action'] })) {
      if (this.#executor.isActive(run.id) || this.#closed) continue;
      const at = adoptionTime(run, now);
      if (at === null || !(await store.adoptRun(run.id, this.owner, now + this.#leaseMs, at))) continue;
      resumed++;
      this.#deps.logger.info('resuming run', { runId: run.id, agent: run.agent, status: run.status });
      void this.#execute({ ...run, leaseOwner: this.owner }, threads);
    }
    if (resumed > 0) this.start();
    for (const t of threads) this.kick(t);
    return resumed;
  }

  async #drain(threadId: string): Promise<void> {
    const { store, clock, ids } = this.#deps;
    try {
      for (;;) {
        const now = clock();
        // The claim appends the run's input message in the same transaction (used only when it does).
        const claimed = await store.claimNextRun(threadId, this.owner, now + this.#leaseMs, now, ids('msg'));
        if (!claimed) {
          if (this.#draining.get(threadId)) {
            this.#draining.set(threadId, false);
            continue;
          }
          break;
        }
        this.#queued.delete(claimed.run.id);
        this.#runningOn.add(threadId);
        try {
          await this.#execute(claimed.run, undefined, claimed.input);
        } finally {
          this.#runningOn.delete(threadId);
        }
      }
    } catch (err) {
      this.#deps.logger.error('thread drain failed', { threadId, error: err });
    } finally {
      this.#draining.delete(threadId);
    }
  }

  async #execute(run: Run, kickAfter?: Set<string>, input?: Message | null): Promise<void> {
    const ended = await this.#executor.execute(run, input);
    if (ended) this.#settle(ended);
    if (kickAfter) kickAfter.add(run.threadId);
    else if (!this.#draining.has(run.threadId)) this.kick(run.threadId);
  }

  #settle(run: Run): void {
    const list = this.#waiters.get(run.id);
    if (!list) return;
    this.#waiters.delete(run.id);
    for (const resolve of list) resolve(run);
  }

  async #tick(): Promise<void> {
    const { store, clock } = this.#deps;
    const now = clock();
    try {
      if (now - this.#lastRenew > this.#leaseMs / 3) {
        // Every few seconds, not every tick: these cost a query per run or per orphan.
        this.#lastRenew = now;
        await store.renewLeases(this.owner, now + this.#leaseMs);
        await this.#executor.checkRemoteCancels();
        await this.resumeOrphans();
        await this.#forgetTakenElsewhere();
      }
      this.#executor.checkStalls(now, this.#deps.config.limits.stallTimeoutMs, (id) => new StallSignal(id));
      // Queued runs held up by another process's run on the same thread.
      for (const threadId of new Set(this.#queued.values())) if (!this.#draining.has(threadId)) this.kick(threadId);
      // Runs another process finished for our waiters.
      for (const runId of this.#waiters.keys()) {
        // Runs this process works on or will claim next settle here: only the others cost a read.
        if (this.#executor.isActive(runId) || this.#runningOn.has(this.#queued.get(runId) ?? '')) continue;
        const run = await store.getRun(runId);
        if (run && FINAL_RUN_STATUSES.includes(run.status)) {
          this.#queued.delete(runId);
          this.#settle(run);
        }
      }
    } catch (err) {
      this.#deps.logger.warn('heartbeat failed', { error: err });
    }
    if (this.#waiters.size > 0 && !this.#executor.hasActive()) {
      // Someone waits on work another process does: keep this process alive for the answer.
      this.#timer?.ref();
    } else {
      // Idle or busy with its own runs: the heartbeat goes on (a replica picks up what a dead one
      // left even when it has no work of its own) but never keeps the process alive by itself.
      this.#timer?.unref();
    }
  }

  /**
   * Runs queued here that another process has since claimed (or that ended) stop being retried on
   * every tick: without this, each one cost a claim attempt per tick for as long as the process lived.
   */
  async #forgetTakenElsewhere(): Promise<void> {
    for (const [runId, threadId] of this.#queued) {
      if (this.#draining.has(threadId)) continue; // a drain here settles it
      const run = await this.#deps.store.getRun(runId);
      if (run?.status === 'queued') continue;
      this.#queued.delete(runId);
      if (run && FINAL_RUN_STATUSES.includes(run.status)) this.#settle(run);
    }
  }

  get executor(): RunExecutor {
    return this.#executor;
  }
}

