import { NotFoundError } from '../errors.js';
import { RUN_END_TYPES, type EventBus, type SwitchboardEvent } from '../events.js';
import { FINAL_RUN_STATUSES, type Store } from '../store/types.js';

/**
 * The events of one run and every run under it (its delegations, theirs, …), from its first stored
 * event on, live until the run ends. A run belongs to the tree once its `parentRunId` is in it; the
 * log is in `seq` order, so a delegation's `run.queued` always comes after its parent joined.
 */
export async function* followRun(bus: EventBus, store: Store, runId: string, signal?: AbortSignal): AsyncGenerator<SwitchboardEvent> {
  const run = await store.getRun(runId);
  if (!run) throw new NotFoundError('run', runId);
  // Without a log nothing is replayed: a run that ended already has nothing left to follow.
  if (!bus.log && FINAL_RUN_STATUSES.includes(run.status)) return;
  const tree = new Set([runId]);
  for await (const e of bus.stream(run.conversationId, { after: bus.log ? 0 : undefined, signal })) {
    if (!tree.has(e.runId)) {
      if (!e.parentRunId || !tree.has(e.parentRunId)) continue;
      tree.add(e.runId);
    }
    yield e;
    if (e.runId === runId && RUN_END_TYPES.has(e.type)) return;
  }
}
