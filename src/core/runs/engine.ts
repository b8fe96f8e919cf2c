import { ClosedError, NotFoundError } from '../errors.js';
import { LeaseKeeper } from '../leases/keeper.js';
import { FINAL_RUN_STATUSES, type Message, type NewRun, type Run } from '../store/types.js';
import { RunExecutor, ShutdownSignal, StallSignal, CancelSignal, type ExecutorDeps } from './executor.js';
import { fencedStore } from './fenced-store.js';
import { RemoteWakeups } from './remote-wakeups.js';
import { ThreadCache } from './thread-cache.js';
import { readRuns, RunWaiters } from './waiters.js';
import type { RunEvent } from './active-run.js';

export interface EngineDeps extends Omit<ExecutorDeps, 'cache'> {
  /** This process's leases (owner id, renewal, adoption rule), shared with plans; by default one of its own. */
  leases?: LeaseKeeper;
  /** How long a claim on a run holds without a heartbeat, for the keeper made when `leases` is not given. */
  leaseMs?: number;
  /** How often to look for work other processes left (queued runs behind their runs, results of runs they took). */
  pollMs?: number;
  /** How many threads no run is using the thread cache keeps (threads in use are always kept). */
  cacheThreads?: number;
}

/**
 * Another process took over a run this one was still executing (its lease lapsed: a heartbeat came
 * too late). Like a shutdown, the loop stops and leaves the run to its new owner.
 */
export class LeaseLostSignal extends ShutdownSignal {}

/** How long `close` waits for loops and store calls in flight before it returns anyway. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Runs runs. Per thread, runs execute one at a time in the order they were queued (the store's
 * claim makes that hold across processes); different threads run concurrently. Callers queue a run
 * and wait for it; nobody ever gets a "thread is busy" error.
 *
 * Across processes on one store, a run is executed by exactly one loop: a queued run starts through
 * the store's atomic claim, and an active run whose process died is taken over through `adoptRun`, a
 * compare-and-set on exactly the lease seen, which never succeeds for a lease this process holds.
 */
export class RunEngine {
  readonly #deps: EngineDeps;
  readonly #executor: RunExecutor;
  readonly #leases: LeaseKeeper;
  readonly #pollMs: number;
  /** Threads being drained by this process; a kick during a drain asks for another pass. */
  readonly #draining = new Map<string, boolean>();
  /** Runs this process queued and has not seen start yet: their threads are re-tried on each poll. */
  readonly #queued = new Map<string, string>();
  readonly #waiters = new RunWaiters();
  /** Drains, executions and heartbeat tasks under way: `close` waits for them before the store goes. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Heartbeat tasks running, by name: a slow one is skipped on the next tick, never stacked. */
  readonly #tasks = new Set<string>();
  /** Runs whose loop here ended without recording an end (the store failed): resumed by the next pass. */
  readonly #abandoned = new Set<string>();
  #resuming: Promise<number> | null = null;
  /** Threads whose drain here is executing a run: it claims their next queued run when that one ends. */
  readonly #runningOn = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #lastFallback = 0;
  #closed = false;
  /** Other processes' stored events, while listened to (see RemoteWakeups). */
  readonly #remote: RemoteWakeups;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.#leases = deps.leases ?? new LeaseKeeper({ leaseMs: deps.leaseMs, pollMs: deps.pollMs, clock: deps.clock, logger: deps.logger });
    this.#pollMs = deps.pollMs ?? 200;
    this.#executor = new RunExecutor({
      ...deps,
      store: fencedStore(deps.store, this.owner, (runId) => this.#leaseLost(runId)),
      cache: new ThreadCache(deps.store, { maxThreads: deps.cacheThreads }),
    });
    this.#remote = new RemoteWakeups(deps.events, this.#executor, {
      closed: () => this.#closed,
      waitedFor: (runId) => this.#waiters.has(runId),
      settle: (runId) => this.#task(`settle:${runId}`, () => this.#checkWaiters([runId])),
      threadFreed: () => {
        for (const threadId of new Set(this.#queued.values())) if (!this.#draining.has(threadId)) this.kick(threadId);
      },
      queued: (runId) => {
        if (this.#draining.size === 0) return;
        this.#task(`queued:${runId}`, async () => {
          const run = await deps.store.getRun(runId);
          if (run && this.#draining.has(run.threadId)) this.kick(run.threadId);
        });
      },
    });
  }

  /** Identifies this process's claims on runs (and plans: the keeper is shared). */
  get owner(): string {
    return this.#leases.owner;
  }

  /** Starts the heartbeat: lease renewal and takeover (the keeper's beat), stall detection and polling for other processes' work. */
  start(): void {
    if (this.#timer || this.#closed) return;
    this.#leases.keep('runs', {
      renew: (owner, until) => this.#deps.store.renewLeases(owner, until),
      adopt: async () => {
        await this.#executor.checkRemoteCancels();
        await this.resumeOrphans();
        await this.#forgetTakenElsewhere();
      },
    });
    this.#timer = setInterval(() => this.#tick(), this.#pollMs);
    this.#timer.unref();
    // Pushed events cost nothing while idle: always listen. Polled ones only while someone waits.
    if (this.#deps.events.log?.live) this.#remote.listen();
  }

  /**
   * Stops taking work. Runs still working are left as they are in the store (not cancelled): their
   * lease is given up and another process, or the next to start, resumes them. Returns once nothing
   * of this engine touches the store any more (or after a grace period, for a tool that ignores its
   * abort signal), so the store can be closed right after.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#remote.stop();
    this.#waiters.rejectAll(new ClosedError());
    // No renewal or takeover scan after this (one in flight is waited for): the leases given up below stay given up.
    await this.#leases.drop('runs');
    await this.#executor.shutdown();
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (this.#inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, deadline - Date.now()).unref())]);
    }
    if (this.#inFlight.size > 0) this.#deps.logger.warn('closing with work still running', { pending: this.#inFlight.size });
    // Every loop has stopped: give up the leases so that another process resumes the runs at once.
    if (!this.#executor.hasActive()) await this.#deps.store.renewLeases(this.owner, 0).catch(() => {});
  }

  /**
   * Queues a run on its thread; it starts as soon as the thread is free. `id` lets a caller persist the run's id
   * before it exists (plans do), so a restart never creates it twice. `announce`: events after its start (RunEmitter.defer).
   */
  async enqueue(newRun: NewRun & { id?: string }, opts: { announce?: (run: Run) => [Run, RunEvent][] } = {}): Promise<Run> {
    const [{ store, ids }, { emitter }] = [this.#deps, this.#executor];
    const id = newRun.id ?? ids('run');
    emitter.defer(id, opts.announce);
    // run.queued is stored with the run (SQLite), not waited for where it cannot be (the bus keeps the conversation's events in order).
    // A run its idempotency key had already started (returned instead of a new one) was announced when it was created.
    const created = emitter.around(() => store.createRun({ ...newRun, id }), (r) => (emitter.track(r), r.id === id ? [[r, { type: 'run.queued' }]] : [])).result;
    created.catch(() => emitter.take(id)); // a run not created announces nothing
    // Kicked before the run is written too: an idle thread's claim goes right behind it, in its commit (SQLite group commit).
    this.#queued.set(id, newRun.threadId);
    this.kick(newRun.threadId);
    const run = await created.catch((err: unknown) => {
      this.#queued.delete(id);
      throw err;
    });
    if (run.id !== id) this.#queued.set(run.id, run.threadId).delete(id); // the run holding the same idempotency key
    for (const [r, e] of emitter.take(id, run)) if (run.id === id) void emitter.emit(r, e); // not started at once
    this.start();
    this.kick(run.threadId);
    return run;
  }

  /** Queues a run and resolves with it once it has ended (completed, failed or cancelled). */
  async runToEnd(newRun: NewRun): Promise<Run> {
    const run = await this.enqueue(newRun);
    return this.wait(run.id);
  }

  /**
   * Resolves when the run has ended, wherever it runs (this process or another on the same store).
   * With `signal`, rejects with its reason once it aborts (a delegating run that stops waits no more).
   */
  async wait(runId: string, signal?: AbortSignal): Promise<Run> {
    signal?.throwIfAborted();
    if (this.#closed) throw new ClosedError('Switchboard is closed: open it again to wait for a run.');
    this.#remote.listen(); // before the read: an end announced after it is heard
    const run = await this.#deps.store.getRun(runId);
    if (!run) throw new NotFoundError('run', runId);
    if (FINAL_RUN_STATUSES.includes(run.status)) return run;
    const ended = this.#waiters.add(runId, signal);
    if (signal?.aborted) return ended;
    this.start();
    if (this.#remote.endedElsewhere(runId)) this.#task(`settle:${runId}`, () => this.#checkWaiters([runId]));
    // Until the first heartbeat decides otherwise, a waiter keeps the process alive (the run may be another process's).
    this.#timer?.ref();
    return ended;
  }

  /** Cancels a queued or running run and, through its signal, the delegations under it. */
  async cancel(runId: string, reason = 'cancelled'): Promise<Run> {
    const { store } = this.#deps;
    if (this.#executor.abort(runId, new CancelSignal(reason))) return this.wait(runId);
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError('run', runId);
    if (FINAL_RUN_STATUSES.includes(run.status)) return run;
    // Queued, or held by another process: mark it; the holder sees it on its next step.
    // Announced with the write: the holder, told by this event (or its next scan), stops without announcing it again.
    const cancel = () => store.updateRun(runId, { status: 'cancelled', error: reason, endedAt: this.#deps.clock() });
    const ended = await this.#executor.emitter.record(cancel, (r) => [[r, { type: 'run.cancelled', reason }]]);
    this.#queued.delete(runId);
    this.#waiters.settle(ended);
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
    this.#track(this.#drain(threadId));
  }

  /**
   * Picks up work a dead process left behind: active runs (working, or waiting for a person) whose
   * lease expired, or whose owner was a process on this host that no longer exists, are resumed from
   * their last persisted step; queued runs that nothing holds up are started. Called at start-up and
   * on the heartbeat. One pass at a time: a caller arriving during a pass shares its result.
   */
  resumeOrphans(): Promise<number> {
    this.#resuming ??= this.#resumePass().finally(() => {
      this.#resuming = null;
    });
    return this.#resuming;
  }

  async #resumePass(): Promise<number> {
    const { store, clock } = this.#deps;
    if (this.#closed) return 0;
    const queuedThreads = new Set<string>();
    for (const run of await store.listOrphanedRuns(clock())) if (run.status === 'queued') queuedThreads.add(run.threadId);
    let resumed = 0;
    // Oldest first, so a parent is active again before its delegations resume under it.
    for (const run of await store.listRuns({ statuses: ['in_progress', 'requires_action'] })) {
      queuedThreads.delete(run.threadId); // its queue moves once this run ends, not before
      if (this.#closed) break;
      if (this.#executor.isActive(run.id)) {
        // Executing here, yet the store names another owner: our lease lapsed and the run was taken over.
        if (run.leaseOwner !== this.owner) this.#leaseLost(run.id, run.leaseOwner);
        continue;
      }
      if (run.leaseOwner === this.owner) {
        if (this.#abandoned.delete(run.id)) this.#resume(run);
        continue;
      }
      if (!this.#leases.mayAdopt(run, clock())) continue;
      // Compare-and-set on exactly the lease in this snapshot: if it changed since, someone else has the run.
      if (!(await store.adoptRun(run.id, this.owner, this.#leases.until(clock()), run))) continue;
      resumed++;
      this.#resume({ ...run, leaseOwner: this.owner });
    }
    if (resumed > 0) this.start();
    for (const t of queuedThreads) this.kick(t);
    return resumed;
  }

  /** Stops the loop here of a run another process now holds; it ends like a shutdown. */
  #leaseLost(runId: string, owner?: string | null): void {
    this.#deps.logger.warn('lease lost to another process; stopping this loop', { runId, owner });
    this.#executor.abort(runId, new LeaseLostSignal());
  }

  #resume(run: Run): void {
    if (this.#closed) return;
    this.#deps.logger.info('resuming run', { runId: run.id, agent: run.agent, status: run.status });
    this.#track(this.#execute(run));
  }

  async #drain(threadId: string): Promise<void> {
    const { store, clock, ids } = this.#deps;
    try {
      while (!this.#closed) {
        const now = clock();
        // The claim appends the run's input message (used only when it does) and run.started in its transaction.
        const claim = () => store.claimNextRun(threadId, this.owner, this.#leases.until(now), now, ids('msg'));
        const claimed = await this.#executor.emitter.around(claim, (c) => (c ? [[c.run, { type: 'run.started' }], ...this.#executor.emitter.take(c.run.id, c.run)] : [])).result;
        if (!claimed) {
          if (this.#draining.get(threadId)) {
            this.#draining.set(threadId, false);
            continue;
          }
          break;
        }
        this.#queued.delete(claimed.run.id);
        // Claimed while closing: left in the store; close gives up the lease and another process resumes it.
        if (this.#closed) break;
        this.#runningOn.add(threadId);
        try {
          await this.#execute(claimed.run, claimed.input, true);
        } finally {
          this.#runningOn.delete(threadId);
        }
      }
    } catch (err) {
      if (!this.#closed) this.#deps.logger.error('thread drain failed', { threadId, error: err });
    } finally {
      this.#draining.delete(threadId);
    }
  }

  /** Runs the loop of a run this process holds, then moves the thread's queue on. Never rejects. */
  async #execute(run: Run, input?: Message | null, announced = false): Promise<void> {
    try {
      const ended = await this.#executor.execute(run, input, announced);
      if (ended) this.#waiters.settle(ended);
    } catch (err) {
      // The loop could not record how the run ended (the store failed): the next pass here resumes it.
      if (!this.#closed) {
        this.#deps.logger.error('run loop failed', { runId: run.id, error: err });
        this.#abandoned.add(run.id);
      }
    }
    if (!this.#draining.has(run.threadId)) this.kick(run.threadId);
  }

  /** Keeps a promise that close() must wait for (its callers catch what it may throw). */
  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    const done = () => void this.#inFlight.delete(p);
    p.then(done, done);
  }

  /** Runs a heartbeat task unless the same task is still running from an earlier tick. */
  #task(name: string, fn: () => Promise<unknown>): void {
    if (this.#tasks.has(name) || this.#closed) return;
    this.#tasks.add(name);
    this.#track(
      fn()
        .catch((err: unknown) => {
          if (!this.#closed) this.#deps.logger.warn('heartbeat failed', { task: name, error: err });
        })
        .finally(() => this.#tasks.delete(name)),
    );
  }

  #tick(): void {
    const { clock, config } = this.#deps;
    const now = clock();
    this.#executor.checkStalls(now, config.limits.stallTimeoutMs, (id) => new StallSignal(id));
    // With pushed events, other processes' runs ending reach us as events (#onRemote): the polls
    // below are then only a safety net, every few seconds, for an event lost to a reconnect.
    const live = this.#deps.events.log?.live && this.#remote.listening;
    if (!live || now - this.#lastFallback > this.#leases.leaseMs / 3) {
      this.#lastFallback = now;
      // Queued runs held up by another process's run on the same thread.
      for (const threadId of new Set(this.#queued.values())) if (!this.#draining.has(threadId)) this.kick(threadId);
      // Runs another process finished for our waiters.
      if (this.#waiters.size > 0) this.#task('waiters', () => this.#checkWaiters());
    }
    if (this.#waiters.size === 0 && !this.#deps.events.log?.live) this.#remote.stop();
    if (this.#waiters.size > 0) {
      // Someone waits: keep this process alive for the answer. Even while busy with runs of its
      // own: when they end, the awaited run (queued behind them, or another process's) may still
      // be ahead, and an empty event loop would end the process with the waiter never told.
      this.#timer?.ref();
    } else {
      // Idle or busy with its own runs: the heartbeat goes on (a replica picks up what a dead one
      // left even when it has no work of its own) but never keeps the process alive by itself.
      this.#timer?.unref();
    }
  }

  async #checkWaiters(only?: string[]): Promise<void> {
    // Runs executing here settle here. Any other may be claimed and finished by another process, even
    // one queued here: one query for all of them (a task, so a slow one is never stacked).
    // Runs whose thread a drain here is running are claimed next by that drain: no read for them.
    const ids = (only ?? this.#waiters.ids()).filter((id) => !this.#executor.isActive(id) && !this.#runningOn.has(this.#queued.get(id) ?? ''));
    for (const run of await readRuns(this.#deps.store, ids)) {
      if (run && FINAL_RUN_STATUSES.includes(run.status)) {
        this.#queued.delete(run.id);
        this.#waiters.settle(run);
      }
    }
  }

  /**
   * Runs queued here that another process has since claimed (or that ended) stop being retried on
   * every tick: without this, each one cost a claim attempt per tick for as long as the process lived.
   */
  async #forgetTakenElsewhere(): Promise<void> {
    const ids = [...this.#queued].filter(([, threadId]) => !this.#draining.has(threadId)).map(([runId]) => runId); // a drain here settles the rest
    for (const run of await readRuns(this.#deps.store, ids)) {
      if (!run || run.status === 'queued') continue;
      this.#queued.delete(run.id);
      if (FINAL_RUN_STATUSES.includes(run.status)) this.#waiters.settle(run);
    }
  }

  get executor(): RunExecutor {
    return this.#executor;
  }
}
