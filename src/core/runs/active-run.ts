import type { AgentSpec } from '../agents/spec.js';
import type { SwitchboardEvent } from '../events.js';
import type { Run } from '../store/types.js';
import type { ThreadTail } from './thread-cache.js';

/** A run this process is working on. */
export interface ActiveRun {
  run: Run;
  agent: AgentSpec;
  controller: AbortController;
  parent: ActiveRun | undefined;
  progressAt: number;
  /** Tool calls waiting on a person; the run is `requires_action` while this is above 0. */
  awaiting: number;
  /** The thread's cached tail, pinned while the run loop works. */
  tail: ThreadTail | null;
}

/** An event as a run emits it: the executor adds who and when. */
export type RunEvent = DistributiveOmit<SwitchboardEvent, 'conversationId' | 'runId' | 'rootRunId' | 'parentRunId' | 'agent' | 'depth' | 'at' | 'seq'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
