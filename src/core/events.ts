import type { RunUsage } from './store/types.js';

/**
 * What happens in a conversation, as it happens. Specialists working inside a delegation emit
 * into their conversation too (with their own `runId`, `agent` and `depth`), so a person sees the
 * whole team at work. Adapters turn these into Slack edits, Teams activities, MCP progress, terminal lines.
 */
interface Base {
  conversationId: string;
  runId: string;
  agent: string;
  /** 0 for the run a person started; +1 per delegation. */
  depth: number;
  at: number;
}

export type SwitchboardEvent =
  | (Base & { type: 'run.queued' })
  | (Base & { type: 'run.started' })
  | (Base & { type: 'text.delta'; delta: string })
  // The run's text.deltas since its last tool call or reset came from a model answer that broke and is
  // being retried: drop them; the retried answer streams next. The stored reply is only ever whole.
  | (Base & { type: 'text.reset' })
  | (Base & { type: 'message'; content: string })
  | (Base & { type: 'tool.call'; toolCallId: string; name: string; arguments: string })
  | (Base & { type: 'tool.result'; toolCallId: string; name: string; content: string; isError: boolean })
  | (Base & { type: 'tool.progress'; toolCallId: string; name: string; message: string })
  | (Base & { type: 'delegation.started'; toolCallId: string; recipient: string; message: string; childRunId: string })
  | (Base & { type: 'delegation.finished'; toolCallId: string; recipient: string; childRunId: string; ok: boolean; reply: string })
  | (Base & { type: 'run.completed'; reply: string; usage: RunUsage })
  | (Base & { type: 'run.failed'; error: string })
  | (Base & { type: 'run.cancelled'; reason: string })
  | (Base & { type: 'run.requires_action'; approvalId: string })
  // Approvals and plans: `runId` is the run that asks (tool calls) or the step's run, '' when there is none yet.
  | (Base & { type: 'approval.requested'; approvalId: string; kind: string; summary: string; planId?: string; stepId?: string; toolName?: string })
  | (Base & { type: 'approval.decided'; approvalId: string; approved: boolean; by: string; status?: string; feedback?: string; planId?: string })
  | (Base & { type: 'plan.updated'; planId: string; status: string; stepId?: string; stepStatus?: string; revision?: number; error?: string })
  // A tool made a file (generate_image): read it with `readArtifact(artifactId)`.
  | (Base & { type: 'artifact.created'; artifactId: string; mediaType: string; size: number; name?: string });

export type SwitchboardEventType = SwitchboardEvent['type'];
export type EventListener = (event: SwitchboardEvent) => void;

/** In-process fan-out of events, per conversation or for all ('*'). A throwing listener never breaks a run. */
export class EventBus {
  readonly #listeners = new Map<string, Set<EventListener>>();

  subscribe(conversationId: string | '*', listener: EventListener): () => void {
    let set = this.#listeners.get(conversationId);
    if (!set) this.#listeners.set(conversationId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      // Only our own set: after it emptied once, a later subscriber has a new one that must stay.
      if (set.size === 0 && this.#listeners.get(conversationId) === set) this.#listeners.delete(conversationId);
    };
  }

  emit(event: SwitchboardEvent): void {
    for (const key of [event.conversationId, '*']) {
      const set = this.#listeners.get(key);
      if (!set) continue;
      for (const listener of set) {
        try {
          listener(event);
        } catch {
          // A broken adapter must not fail the run that emitted the event.
        }
      }
    }
  }

  /** Whether anyone listens: lets the hot path skip building events nobody reads. */
  hasListeners(conversationId: string): boolean {
    return this.#listeners.has(conversationId) || this.#listeners.has('*');
  }

  /**
   * Events of one conversation as an async iterable. Ends when `signal` aborts or the consumer
   * breaks out of the loop; buffered so a slow consumer misses nothing.
   */
  stream(conversationId: string, signal?: AbortSignal): AsyncIterable<SwitchboardEvent> {
    const subscribe = (listener: EventListener) => this.subscribe(conversationId, listener);
    return {
      [Symbol.asyncIterator](): AsyncIterator<SwitchboardEvent> {
        const buffer: SwitchboardEvent[] = [];
        let wake: (() => void) | null = null;
        let done = false;
        const unsubscribe = subscribe((e) => {
          buffer.push(e);
          wake?.();
        });
        const finish = () => {
          done = true;
          unsubscribe();
          wake?.();
        };
        signal?.addEventListener('abort', finish, { once: true });
        return {
          async next() {
            while (buffer.length === 0 && !done) await new Promise<void>((r) => (wake = r));
            wake = null;
            if (buffer.length > 0) return { value: buffer.shift()!, done: false };
            return { value: undefined, done: true };
          },
          async return() {
            finish();
            return { value: undefined, done: true };
          },
        };
      },
    };
  }
}
