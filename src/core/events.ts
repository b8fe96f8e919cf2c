import type { RunUsage } from './store/types.js';
import { FollowStream, type StreamSource } from './events/stream.js';
import type { EventLog, StoredEvent } from './events/log.js';

export type { EventLog, StoredEvent } from './events/log.js';

/**
 * What happens in a conversation, as it happens. Specialists working inside a delegation emit
 * into their conversation too (with their own `runId`, `agent` and `depth`), so a person sees the
 * whole team at work. Adapters turn these into Slack edits, Teams activities, MCP progress, terminal lines.
 *
 * Lifecycle events (STORED_EVENT_TYPES) are stored in the conversation's event log and carry `seq`
 * (1, 2, 3… per conversation); `text.delta`, `text.reset` and `tool.progress` are best-effort and local.
 */
interface Base {
  conversationId: string;
  runId: string;
  /** The run a person (or a plan) started, at the top of this run's delegation tree; `runId` at the root. */
  rootRunId: string;
  /** The run that delegated to this one; null at the root. */
  parentRunId: string | null;
  planId?: string;
  agent: string;
  /** 0 for the run a person started; +1 per delegation. */
  depth: number;
  at: number;
  /** Per-conversation position of a stored event; absent on best-effort events. */
  seq?: number;
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

type Optional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;
type DistributiveOptional<T, K extends PropertyKey> = T extends unknown ? Optional<T, K & keyof T> : never;
/** An event as emitters hand it to the bus: the run tree (`rootRunId`, `parentRunId`) is filled in when missing. */
export type EventInput = DistributiveOptional<SwitchboardEvent, 'rootRunId' | 'parentRunId' | 'seq'>;

/** Kept in the event log, numbered per conversation, seen by every process. */
export const STORED_EVENT_TYPES: ReadonlySet<SwitchboardEventType> = new Set<SwitchboardEventType>([
  'run.queued', 'run.started', 'run.completed', 'run.failed', 'run.cancelled', 'run.requires_action', 'message',
  'tool.call', 'tool.result', 'delegation.started', 'delegation.finished', 'approval.requested', 'approval.decided',
  'plan.updated', 'artifact.created',
]);
export const RUN_END_TYPES: ReadonlySet<SwitchboardEventType> = new Set<SwitchboardEventType>(['run.completed', 'run.failed', 'run.cancelled']);

/** Run trees kept for runs in flight (about 100 bytes each). */
const MAX_TREES = 100_000;

/** Where a run sits in its delegation tree, and the plan it works for; looked up (and cached) for events emitted without it. */
export type RunTreeResolver = (runId: string) => Promise<RunTree>;
export interface RunTree {
  rootRunId: string;
  parentRunId: string | null;
  planId?: string | null;
}

/**
 * Fan-out of events, per conversation or for all ('*'). A throwing listener never breaks a run.
 * With an event log attached, lifecycle events are stored first (in emission order per conversation)
 * and delivered with their `seq`; other processes' stored events reach local listeners through the log.
 */
export class EventBus {
  readonly #listeners = new Map<string, Set<EventListener>>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #trees = new Map<string, RunTree>();
  #log: EventLog | null = null;
  #resolve: RunTreeResolver | null = null;
  #onError: (err: unknown, event: EventInput) => void = () => {};
  #relayOff: (() => void) | null = null;

  /** Stores lifecycle events in `log` from now on; `resolve` finds the run tree of events emitted without it. */
  attach(log: EventLog, opts: { resolve?: RunTreeResolver; onError?: (err: unknown, event: EventInput) => void } = {}): void {
    this.#log = log;
    this.#resolve = opts.resolve ?? null;
    if (opts.onError) this.#onError = opts.onError;
    if (this.#listeners.size > 0) this.#relay();
  }

  get log(): EventLog | null {
    return this.#log;
  }

  subscribe(conversationId: string | '*', listener: EventListener): () => void {
    let set = this.#listeners.get(conversationId);
    if (!set) this.#listeners.set(conversationId, (set = new Set()));
    set.add(listener);
    this.#relay();
    return () => {
      set.delete(listener);
      // Only our own set: after it emptied once, a later subscriber has a new one that must stay.
      if (set.size === 0 && this.#listeners.get(conversationId) === set) this.#listeners.delete(conversationId);
      if (this.#listeners.size === 0) {
        this.#relayOff?.();
        this.#relayOff = null;
      }
    };
  }

  /** Other processes' stored events, for local listeners, only while there are any. */
  #relay(): void {
    if (this.#relayOff || !this.#log) return;
    this.#relayOff = this.#log.remote((e) => this.#deliver(e));
  }

  /**
   * Stored events other processes append (not this process's own), for the engine's and the
   * approvals' wake-ups. Does not count as a listener: nothing extra is built for it.
   */
  remote(listener: (event: StoredEvent) => void): () => void {
    return this.#log ? this.#log.remote(listener) : () => {};
  }

  /**
   * Emits an event. Lifecycle events are stored first when a log is attached; the promise resolves
   * once the event is stored and delivered (it never rejects: a failed write is reported to onError).
   */
  emit(input: EventInput): Promise<void> {
    if (!this.#log || !STORED_EVENT_TYPES.has(input.type)) {
      if (this.hasListeners(input.conversationId)) this.#deliver(this.#fill(input));
      return Promise.resolve();
    }
    const log = this.#log;
    const key = input.conversationId;
    // Appends of one conversation are handed to the log in emission order without waiting for the
    // previous one to be stored (the log stores them in that order, batched); delivery follows the
    // stores, so listeners still see them in seq order. The usual case (the run's tree is known,
    // nothing of the conversation waiting on a lookup) appends right away, with no chain to keep.
    const ready = this.#chains.has(key) ? null : this.#envelopeNow(input);
    if (ready) {
      try {
        return log.append(ready).then(
          (seq) => this.#deliverStored(ready, seq),
          (err: unknown) => this.#onError(err, input),
        );
      } catch (err) {
        this.#onError(err, input);
        return Promise.resolve();
      }
    }
    const queued = (this.#chains.get(key) ?? Promise.resolve()).then(async () => {
      const event = await this.#envelope(input);
      return { event, seq: log.append(event) };
    });
    const chained = queued.then(
      () => {},
      () => {},
    );
    this.#chains.set(key, chained);
    void chained.then(() => {
      if (this.#chains.get(key) === chained) this.#chains.delete(key);
    });
    return queued
      .then(async ({ event, seq }) => this.#deliverStored(event, await seq))
      .catch((err: unknown) => this.#onError(err, input));
  }

  /** A stored event, numbered, to the listeners here (built only when there are any). */
  #deliverStored(event: SwitchboardEvent, seq: number): void {
    if (this.hasListeners(event.conversationId)) this.#deliver({ ...event, seq } as SwitchboardEvent);
  }

  /**
   * Makes a write together with the lifecycle events that describe it (`build` makes them from its
   * result). A log that can (SQLite) stores them in the write's own transaction: they exist exactly
   * when the write does, at no commit of their own. Otherwise, or while earlier events of the
   * conversation still wait for their run tree, they are emitted once the write resolved. `result`
   * is the write's; `delivered` resolves once the events are stored and delivered (never rejects).
   */
  around<T>(write: () => Promise<T>, build: (result: T) => EventInput[]): { result: Promise<T>; delivered: Promise<void> } {
    const log = this.#log;
    if (!log?.during) {
      const result = write();
      // Nothing stored, nobody here listens: no event to build.
      if (!log && this.#listeners.size === 0) return { result, delivered: result.then(() => {}, () => {}) };
      return { result, delivered: result.then((value) => this.#emitAll(build(value)), () => {}) };
    }
    /** What could not be numbered inside the transaction (best-effort, or a run tree to look up): emitted after it. */
    let later: EventInput[] = [];
    const { result, stored } = log.during(write, (value) => {
      const events: SwitchboardEvent[] = [];
      for (const input of build(value)) {
        const event = STORED_EVENT_TYPES.has(input.type) && !this.#chains.has(input.conversationId) ? this.#envelopeNow(input) : null;
        if (event) events.push(event);
        else later.push(input);
      }
      return events;
    });
    const delivered = stored.then(async (events) => {
      if (!events) {
        // Not taken: a write that failed announces nothing; one that made no transaction, as emit would.
        later = await result.then(build, () => []);
      }
      for (const e of events ?? []) this.#deliverStored(e, e.seq);
      await this.#emitAll(later);
    });
    return { result, delivered };
  }

  async #emitAll(inputs: EventInput[]): Promise<void> {
    await Promise.all(inputs.map((input) => this.emit(input)));
  }

  /**
   * Remembers where a run sits in its tree (and its plan), so its events need no lookup. Runs that
   * ended here are forgotten (forgetRun); past the bound the oldest entry goes, not all of them: with
   * more runs in flight than the bound, clearing everything made every delegate's events look its
   * tree up in the store again.
   */
  rememberRun(run: { id: string; parentRunId: string | null; planId?: string | null }, rootRunId: string): void {
    if (this.#trees.size >= MAX_TREES && !this.#trees.has(run.id)) this.#trees.delete(this.#trees.keys().next().value!);
    this.#trees.set(run.id, { rootRunId, parentRunId: run.parentRunId, planId: run.planId ?? null });
  }

  /** The run ended here: its later events (rare) look its tree up again. */
  forgetRun(runId: string): void {
    this.#trees.delete(runId);
  }

  treeOf(runId: string): RunTree | undefined {
    return this.#trees.get(runId);
  }

  #fill(input: EventInput): SwitchboardEvent {
    if (input.rootRunId !== undefined && input.parentRunId !== undefined) return input as SwitchboardEvent;
    const tree = this.#trees.get(input.runId);
    const planId = input.planId ?? tree?.planId;
    const filled = { ...input, rootRunId: input.rootRunId ?? tree?.rootRunId ?? input.runId, parentRunId: input.parentRunId ?? tree?.parentRunId ?? null };
    return (planId ? { ...filled, planId } : filled) as SwitchboardEvent;
  }

  /** The whole event when nothing needs looking up; null when the run's tree must be resolved first. */
  #envelopeNow(input: EventInput): SwitchboardEvent | null {
    if ((input.rootRunId !== undefined && input.parentRunId !== undefined) || !input.runId || this.#trees.has(input.runId) || !this.#resolve) return this.#fill(input);
    return null;
  }

  async #envelope(input: EventInput): Promise<SwitchboardEvent> {
    const now = this.#envelopeNow(input);
    if (now) return now;
    try {
      // Not known now means: a run whose tree a resolver looks up (#envelopeNow fills everything else).
      const tree = await this.#resolve!(input.runId);
      this.rememberRun({ id: input.runId, parentRunId: tree.parentRunId, planId: tree.planId }, tree.rootRunId);
    } catch {
      // An unknown run (a test's, or one deleted since): the event still goes out, as its own root.
    }
    return this.#fill(input);
  }

  #deliver(event: SwitchboardEvent): void {
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

  /**
   * Whether an emit does anything: always with a log (lifecycle events are stored whoever listens),
   * else only when someone here listens. Lets the hot path skip building events nobody reads.
   */
  wants(conversationId: string): boolean {
    return this.#log !== null || this.hasListeners(conversationId);
  }

  /** Whether anyone in this process listens (best-effort events such as `text.delta` go only to them). */
  hasListeners(conversationId: string): boolean {
    return this.#listeners.has(conversationId) || this.#listeners.has('*');
  }

  /**
   * Events of one conversation as an async iterable: with a log, stored events after `after` first,
   * then live ones, in `seq` order without gaps or repeats. Ends when `signal` aborts or the consumer
   * breaks out of the loop; buffered so a slow consumer misses nothing.
   */
  stream(conversationId: string, opts: { after?: number; signal?: AbortSignal } | AbortSignal = {}): AsyncIterable<SwitchboardEvent> {
    const { after, signal } = opts instanceof AbortSignal ? { after: undefined, signal: opts } : opts;
    const source: StreamSource = {
      subscribe: (listener) => this.subscribe(conversationId, listener),
      readAfter: this.#log ? (seq, limit) => this.#log!.readAfter(conversationId, seq, limit) : null,
    };
    return { [Symbol.asyncIterator]: () => new FollowStream(source, { after, signal }) };
  }
}
