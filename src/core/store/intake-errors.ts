import { SwitchboardError } from '../errors.js';
import type { Run } from './types.js';

/**
 * An idempotency key came back with a different conversation than the run it first created. Keys are
 * unique per store, so this is a surface building keys that collide (e.g. without the channel in them).
 */
export class IdempotencyConflictError extends SwitchboardError {
  readonly key: string;
  readonly runId: string;
  constructor(key: string, run: Pick<Run, 'id' | 'conversationId'>, conversationId: string) {
    super(
      'idempotency_conflict',
      `Idempotency key "${key}" already started run ${run.id} in conversation ${run.conversationId}, not in ${conversationId}; build keys that are unique per conversation (include the channel or thread).`,
    );
    this.key = key;
    this.runId = run.id;
  }
}

/** The run that already holds the key, when it is for the same conversation; otherwise IdempotencyConflictError. */
export function sameKeyRun(existing: Run, key: string, conversationId: string): Run {
  if (existing.conversationId !== conversationId) throw new IdempotencyConflictError(key, existing, conversationId);
  return existing;
}
