import { NotFoundError } from '../errors.js';
import type { EventBus, RunTree, RunTreeResolver } from '../events.js';
import type { Run, Store } from '../store/types.js';
import type { RunEvent } from './active-run.js';

/**
 * Event emission for runs: puts the envelope (conversation, run, its tree, agent, depth, time) on
 * what a run reports and hands it to the bus, which stores lifecycle events. `text.delta`, the
 * hottest event, is built only when someone in this process listens.
 */
export class RunEmitter {
  readonly #bus: EventBus;
  readonly #clock: () => number;

  /** Events of runs that follow their start, until stored with it or emitted by whoever takes them first. */
  readonly #deferred = new Map<string, (run: Run) => [Run, RunEvent][]>();

  constructor(bus: EventBus, clock: () => number) {
    this.#bus = bus;
    this.#clock = clock;
  }

  /** Remembers the run's place in its tree when it is known here (a root, or a parent run here). */
  track(run: Run): void {
    const root = run.parentRunId ? this.#bus.treeOf(run.parentRunId)?.rootRunId : run.id;
    if (root) this.#bus.rememberRun(run, root);
  }

  /**
   * Events that follow a run's start (a delegation's: listeners show the delegation as the latest
   * line, after the child's run.started). Stored with the claim when the run is claimed at once, else
   * emitted by its creator; whoever `take`s them first.
   */
  defer(runId: string, events: ((run: Run) => [Run, RunEvent][]) | undefined): void {
    if (events) this.#deferred.set(runId, events);
  }

  /** The run's deferred events, once (none for anyone after); without `run`, only forgets them. */
  take(runId: string, run?: Run): [Run, RunEvent][] {
    const events = this.#deferred.get(runId);
    if (!events) return [];
    this.#deferred.delete(runId);
    return run ? events(run) : [];
  }

  /** The run ended here: nothing more of it needs its tree at hand. */
  forget(run: Run): void {
    this.#bus.forgetRun(run.id);
  }

  /** Resolves once a lifecycle event is stored and delivered (never rejects). */
  emit(run: Run, event: RunEvent): Promise<void> {
    return this.#bus.emit(this.input(run, event));
  }

  /**
   * Makes a write with the events that describe it, built from its result as `[run, event]` pairs:
   * stored in the write's transaction where the log can (EventBus.around), so none is stored for a
   * write that rolled back. `delivered` resolves once they are stored and delivered.
   */
  around<T>(write: () => Promise<T>, events: (result: T) => [Run, RunEvent][]): { result: Promise<T>; delivered: Promise<void> } {
    return this.#bus.around(write, (result) => events(result).map(([run, event]) => this.input(run, event)));
  }

  /** `around`, resolving with the write's result once its events are stored and delivered. */
  async record<T>(write: () => Promise<T>, events: (result: T) => [Run, RunEvent][]): Promise<T> {
    const { result, delivered } = this.around(write, events);
    const value = await result;
    await delivered;
    return value;
  }

  /** The event with its envelope: who (the run, its tree, agent, depth) and when. */
  input(run: Run, event: RunEvent): Parameters<EventBus['emit']>[0] {
    const tree = this.#bus.treeOf(run.id);
    return {
      ...event,
      conversationId: run.conversationId,
      runId: run.id,
      rootRunId: tree?.rootRunId ?? (run.parentRunId ? undefined : run.id),
      parentRunId: run.parentRunId,
      ...(run.planId ? { planId: run.planId } : {}),
      agent: run.agent,
      depth: run.depth,
      at: this.#clock(),
    } as Parameters<EventBus['emit']>[0];
  }

  /** Whether deltas are worth building for this conversation (someone here listens). */
  wantsDeltas(conversationId: string): boolean {
    return this.#bus.hasListeners(conversationId);
  }

  delta(run: Run, delta: string): void {
    // Built as one literal rather than through emit's spread.
    const { conversationId, id: runId, agent, depth, parentRunId, planId } = run;
    const rootRunId = this.#bus.treeOf(runId)?.rootRunId ?? runId;
    const event = { type: 'text.delta', delta, conversationId, runId, rootRunId, parentRunId, agent, depth, at: this.#clock() } as const;
    void this.#bus.emit(planId ? { ...event, planId } : event);
  }
}

/** Finds a run's root by walking up its parents in the store (stopping at one whose tree is known), and its plan. */
export function runTreeResolver(store: Store, bus: EventBus): RunTreeResolver {
  return async (runId) => {
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError('run', runId);
    return runTreeOf(store, bus, run);
  };
}

/** runTreeResolver for a run already read. */
export async function runTreeOf(store: Store, bus: EventBus, run: Run): Promise<RunTree> {
  const { parentRunId, planId } = run;
  for (let hops = 0; run.parentRunId && hops < 64; hops++) {
    const known = bus.treeOf(run.parentRunId);
    if (known) return { rootRunId: known.rootRunId, parentRunId, planId };
    const parent = await store.getRun(run.parentRunId);
    if (!parent) break;
    run = parent;
  }
  return { rootRunId: run.id, parentRunId, planId };
}
