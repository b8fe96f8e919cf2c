import { NotFoundError } from '../errors.js';
import type { EventBus, RunTreeResolver } from '../events.js';
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

  constructor(bus: EventBus, clock: () => number) {
    this.#bus = bus;
    this.#clock = clock;
  }

  /** Remembers the run's place in its tree when it is known here (a root, or a parent run here). */
  track(run: Run): void {
    const root = run.parentRunId ? this.#bus.treeOf(run.parentRunId)?.rootRunId : run.id;
    if (root) this.#bus.rememberRun(run, root);
  }

  /** The run ended here: nothing more of it needs its tree at hand. */
  forget(run: Run): void {
    this.#bus.forgetRun(run.id);
  }

  /** Resolves once a lifecycle event is stored and delivered (never rejects). */
  emit(run: Run, event: RunEvent): Promise<void> {
    const tree = this.#bus.treeOf(run.id);
    return this.#bus.emit({
      ...event,
      conversationId: run.conversationId,
      runId: run.id,
      rootRunId: tree?.rootRunId ?? (run.parentRunId ? undefined : run.id),
      parentRunId: run.parentRunId,
      ...(run.planId ? { planId: run.planId } : {}),
      agent: run.agent,
      depth: run.depth,
      at: this.#clock(),
    } as Parameters<EventBus['emit']>[0]);
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
    let run = await store.getRun(runId);
    if (!run) throw new NotFoundError('run', runId);
    const { parentRunId, planId } = run;
    for (let hops = 0; run.parentRunId && hops < 64; hops++) {
      const known = bus.treeOf(run.parentRunId);
      if (known) return { rootRunId: known.rootRunId, parentRunId, planId };
      const parent = await store.getRun(run.parentRunId);
      if (!parent) break;
      run = parent;
    }
    return { rootRunId: run.id, parentRunId, planId };
  };
}
