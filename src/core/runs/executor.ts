import { setMaxListeners } from 'node:events';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentSpec, Config } from '../agents/spec.js';
import type { ArtifactStore } from '../artifacts/types.js';
import { SwitchboardError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { IdGenerator } from '../ids.js';
import type { Logger } from '../logger.js';
import type { ChatMessage, ModelClient, ToolCall } from '../model/types.js';
import type { Message, Run, RunStep, Store } from '../store/types.js';
import type { ToolApprovalGate } from './approval-gate.js';
import { selectContext } from './budget.js';
import { systemPrompt, toChatMessage } from './prompt.js';
import { CancelSignal, ShutdownSignal, StallSignal } from './signals.js';
import type { ThreadCache, ThreadTail } from './thread-cache.js';
import { Limiter } from './limiter.js';
import { ToolRunner } from './tool-runner.js';
import type { ToolDefinition } from './tool.js';
import type { ActiveRun, RunEvent } from './active-run.js';
import { RunEmitter } from './emit.js';
import { readRuns } from './waiters.js';
import { AgentTools, costOf } from './agent-tools.js';

export type { ActiveRun } from './active-run.js';
export { CancelSignal, ShutdownSignal, StallSignal } from './signals.js';
export { systemPrompt } from './prompt.js';

/** What running a run needs: the engine's dependencies, less its scheduling knobs, plus the thread cache. */
export interface ExecutorDeps {
  store: Store;
  model: ModelClient;
  agents: AgentRegistry;
  /** Every tool an agent may name, by name (built-ins plus any registered in code). */
  tools: ReadonlyMap<string, ToolDefinition>;
  events: EventBus;
  config: Config;
  logger: Logger;
  ids: IdGenerator;
  clock: () => number;
  /** Root folder of per-conversation workspaces. */
  workspaceRoot: string;
  approvals?: ToolApprovalGate;
  /** Where tools keep what they make (generate_image); tools get their conversation's view of it. */
  artifacts?: ArtifactStore;
  cache: ThreadCache;
  /** Model calls in flight at once in this process (each holds a connection); more wait their turn. Default 512. */
  modelConcurrency?: number;
}

/** How a run loop ended: its answer, and the run when the last step ended it (its events `delivered` then). */
type LoopEnd = { reply: string; ended?: undefined } | { reply: string; ended: Run; delivered: Promise<void> };

class RunLimitError extends SwitchboardError {
  constructor(message: string) {
    super('run_limit', message);
  }
}

/**
 * The run loop. Its state is the thread itself: after each step it looks at this run's last
 * messages to decide what comes next (call the model, run pending tool calls, or finish). Every
 * step is persisted before the next begins, so a run picked up after a crash continues from where
 * the thread says it stopped — completed model calls and tool results are never repeated.
 */
export class RunExecutor {
  readonly #d: ExecutorDeps;
  readonly #active = new Map<string, ActiveRun>();
  readonly #tools: AgentTools;

  readonly #toolRunner: ToolRunner;
  readonly #modelCalls: Limiter;
  readonly emitter: RunEmitter;

  constructor(deps: ExecutorDeps) {
    this.#d = deps;
    this.emitter = new RunEmitter(deps.events, deps.clock);
    this.#tools = new AgentTools(deps.tools);
    this.#modelCalls = new Limiter(deps.modelConcurrency ?? 512);
    this.#toolRunner = new ToolRunner(deps, {
      emit: (run, event) => void this.#emit(run, event),
      record: (run, write, events) => this.#around(run, write, () => events).result,
      progress: (active) => this.#progress(active),
    });
  }

  isActive(runId: string): boolean {
    return this.#active.has(runId);
  }

  hasActive(): boolean {
    return this.#active.size > 0;
  }

  get(runId: string): ActiveRun | undefined {
    return this.#active.get(runId);
  }

  abort(runId: string, reason: unknown): boolean {
    const active = this.#active.get(runId);
    if (!active) return false;
    active.controller.abort(reason);
    return true;
  }

  async shutdown(): Promise<void> {
    for (const a of this.#active.values()) a.controller.abort(new ShutdownSignal());
    // Give loops a moment to observe the abort and stop writing.
    const deadline = Date.now() + 2_000;
    while (this.#active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Fails runs that made no progress for `timeoutMs`. Waiting on a person is not a stall, neither
   * for the run that asked nor for the runs that delegated to it.
   */
  checkStalls(now: number, timeoutMs: number, reason: (runId: string) => unknown): void {
    const waiting = new Set<ActiveRun>();
    for (const a of this.#active.values()) if (a.awaiting > 0) for (let p: ActiveRun | undefined = a; p; p = p.parent) waiting.add(p);
    for (const a of this.#active.values()) {
      if (!waiting.has(a) && now - a.progressAt > timeoutMs && !a.controller.signal.aborted) {
        a.controller.abort(reason(a.run.id));
      }
    }
  }

  /**
   * Runs cancelled by another process through the store are aborted here. One read for all of them
   * where the store can (PostgreSQL: one round trip per heartbeat, not one per run in flight).
   */
  async checkRemoteCancels(): Promise<void> {
    const roots: string[] = []; // children are cancelled through their root
    for (const a of this.#active.values()) if (a.run.depth === 0) roots.push(a.run.id);
    for (const stored of await readRuns(this.#d.store, roots)) {
      if (stored?.status === 'cancelled') this.#active.get(stored.id)?.controller.abort(new CancelSignal(stored.error ?? 'cancelled', true));
    }
  }

  /**
   * Executes a claimed run to its end. Returns the ended run, or null when shut down mid-run.
   * `input` is the input message the claim appended (a run just claimed, never started before);
   * without it the run may be resuming, and its history in the thread says where it stands.
   * `announced`: run.started went out with the claim.
   */
  async execute(run: Run, input?: Message | null, announced = false): Promise<Run | null> {
    const { store, clock, logger } = this.#d;
    let agent: AgentSpec;
    try {
      agent = this.#d.agents.get(run.agent);
    } catch (err) {
      return this.#end(run, 'failed', (err as Error).message);
    }
    const parent = run.parentRunId ? this.#active.get(run.parentRunId) : undefined;
    const controller = new AbortController();
    // Parallel tool calls, delegations and the model client each listen on a run's signal.
    setMaxListeners(0, controller.signal);
    const onParentAbort = () => controller.abort(parent?.controller.signal.reason);
    if (parent?.controller.signal.aborted) onParentAbort();
    else parent?.controller.signal.addEventListener('abort', onParentAbort, { once: true });
    const active: ActiveRun = { run, agent, controller, parent, progressAt: clock(), awaiting: 0, tail: null };
    this.#active.set(run.id, active);
    this.emitter.track(run);
    if (!announced) void this.#emit(active.run, { type: 'run.started' });
    try {
      const done = await this.#loop(active, input ?? null);
      // Usually the final model step ended the run (and stored run.completed) with it; a resumed run may have its answer already.
      if (done.ended) {
        await done.delivered;
        return done.ended;
      }
      return await this.#record(active.run, () => store.updateRun(run.id, { status: 'completed', reply: done.reply, endedAt: clock(), leaseOwner: null, leaseUntil: null }), (ended) => [
        { type: 'run.completed', reply: done.reply, usage: ended.usage },
      ]);
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason instanceof ShutdownSignal) return null;
      if (reason instanceof CancelSignal) return this.#end(run, 'cancelled', reason.reason, !reason.announced);
      if (reason instanceof StallSignal) {
        const ms = this.#d.config.limits.stallTimeoutMs;
        const span = ms < 10_000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
        return this.#end(run, 'failed', `${run.agent} made no progress for ${span} (no model output, tool result or delegation activity) and was stopped.`);
      }
      if (!(err instanceof SwitchboardError)) logger.error('run crashed', { runId: run.id, error: err });
      const message = err instanceof SwitchboardError ? err.message : `Internal error: ${(err as Error)?.message ?? String(err)}`;
      return this.#end(run, 'failed', message);
    } finally {
      parent?.controller.signal.removeEventListener('abort', onParentAbort);
      this.#active.delete(run.id);
      this.emitter.forget(run);
    }
  }

  /** Ends the run as failed or cancelled; `announce` false when whoever cancelled it emitted run.cancelled already. */
  async #end(run: Run, status: 'failed' | 'cancelled', error: string, announce = true): Promise<Run> {
    const event: RunEvent = status === 'failed' ? { type: 'run.failed', error } : { type: 'run.cancelled', reason: error };
    return this.#record(run, () => this.#d.store.updateRun(run.id, { status, error, endedAt: this.#d.clock(), leaseOwner: null, leaseUntil: null }), () => (announce ? [event] : []));
  }

  /** A write of `run` and the events describing it, stored together (`#around`); resolves once they are delivered. */
  async #record<T>(run: Run, write: () => Promise<T>, events: (result: T) => RunEvent[]): Promise<T> {
    const { result, delivered } = this.#around(run, write, events);
    const value = await result;
    await delivered;
    return value;
  }

  /** A write of `run` with the events describing it, stored in its transaction where the log can (RunEmitter.around). */
  #around<T>(run: Run, write: () => Promise<T>, events: (result: T) => RunEvent[]): { result: Promise<T>; delivered: Promise<void> } {
    if (!this.#d.events.wants(run.conversationId)) return { result: write(), delivered: Promise.resolve() };
    return this.emitter.around(write, (r) => events(r).map((e): [Run, RunEvent] => [run, e]));
  }

  /** Runs the loop until the run has its answer; `ended` is the run when the last step also completed it. */
  async #loop(active: ActiveRun, input: Message | null): Promise<LoopEnd> {
    // Pinned for the whole run: what the run writes lands in the tail it reads (see ThreadCache).
    // The claim's input is the thread's newest message: a cached tail that ends right before it needs no read.
    const tail = await this.#d.cache.acquire(active.run.threadId, input);
    active.tail = tail;
    try {
      return await this.#steps(active, input, tail);
    } finally {
      active.tail = null;
      tail.release();
    }
  }

  async #steps(active: ActiveRun, input: Message | null, tail: ThreadTail): Promise<LoopEnd> {
    const { run, agent, controller } = active;
    const { store, ids } = this.#d;
    const { tools, schemas, tokens: toolTokens } = this.#tools.for(agent);
    // The claim that appended the input also started the run: nothing else of it exists yet.
    if (input) tail.append([input]);
    const resumed = !input && tail.messages.some((m) => m.runId === run.id);
    if (!input && !resumed && run.input) {
      const appended = await store.appendMessages(run.threadId, [
        { id: ids('msg'), role: 'user', author: run.input.author, content: run.input.content, images: run.input.images, runId: run.id },
      ]);
      tail.append(appended);
    }
    const steps: RunStep[] = resumed ? await store.listRunSteps(run.id) : [];
    let turns = tail.messages.filter((m) => m.runId === run.id && m.role === 'assistant').length;
    const system = systemPrompt(agent, this.#d.agents);
    const maxTurns = agent.maxTurns ?? this.#d.config.defaults.maxTurns;
    const contextBudget = agent.contextBudget ?? this.#d.config.defaults.contextBudget;
    const budget = contextBudget - Math.ceil(system.length / 4) - toolTokens;
    /** Tool calls this execution already ran: none of them may run again. */
    const ran = new Set<string>();

    for (;;) {
      controller.signal.throwIfAborted();
      const pending = await this.#pendingCalls(run, tail, ran);
      if (pending === 'answered') break;
      if (pending.length > 0) {
        for (const call of pending) ran.add(call.id);
        await Promise.all(pending.map((call) => this.#toolRunner.run(active, call, tools, steps)));
        continue;
      }
      if (turns >= maxTurns) {
        throw new RunLimitError(`${agent.name} reached its limit of ${maxTurns} model calls in one run without a final answer.`);
      }
      const window = selectContext(tail.messages, tail.tokens, Math.max(budget, 256));
      const request: ChatMessage[] = [{ role: 'system', content: system }, ...window.map(toChatMessage)];
      const wantDeltas = this.emitter.wantsDeltas(run.conversationId);
      const call = () =>
        this.#d.model.chat(
          { provider: agent.provider ?? 'default', model: agent.model!, messages: request, tools: schemas, temperature: agent.temperature },
          {
            signal: controller.signal,
            onDelta: (delta) => {
              this.#progress(active);
              if (wantDeltas) this.emitter.delta(run, delta);
            },
            onReset: () => {
              if (wantDeltas) void this.#emit(run, { type: 'text.reset' });
            },
          },
        );
      // Waiting for a turn is not progress: a run that waits longer than the stall limit is failed as stalled.
      const result = await this.#modelCalls.run(call, controller.signal);
      const cost = costOf(this.#d.config, result.model || agent.model!, result.usage);
      // An answer without tool calls is the run's last step: it completes the run in the same write.
      // Not once the run is aborted: the step is kept and the abort decides how the run ends.
      const final = result.toolCalls.length === 0 && !controller.signal.aborted;
      // The answer's message event (and run.completed) are stored with the step.
      const recorded = this.#around(active.run, () => store.recordModelStep(
        { id: ids('step'), runId: run.id, data: { model: result.model || agent.model, finishReason: result.finishReason, latencyMs: result.latencyMs }, usage: result.usage, cost },
        {
          id: ids('msg'),
          threadId: run.threadId,
          role: 'assistant',
          author: agent.name,
          content: result.content ?? '',
          toolCalls: result.toolCalls.length > 0 ? uniqueCallIds(result.toolCalls, ids) : undefined,
          runId: run.id,
        },
        final ? { complete: { endedAt: this.#d.clock() } } : undefined,
      ), (r): RunEvent[] => [
        ...(result.content ? [{ type: 'message' as const, content: result.content }] : []),
        ...(r.run ? [{ type: 'run.completed' as const, reply: r.message.content, usage: r.run.usage }] : []),
      ]);
      const { message, run: ended } = await recorded.result;
      tail.append([message]);
      tail.trim(contextBudget * 2);
      turns++;
      this.#progress(active);
      if (ended) return { reply: message.content, ended, delivered: recorded.delivered };
    }
    const answer = lastAssistant(run, tail.messages)!;
    return { reply: answer.content };
  }

  /**
   * What the thread says comes next: 'answered' (the run's last assistant message has no tool
   * calls), the tool calls of its last assistant message that have no result yet, or none (call the
   * model). A call this execution already ran must have its result in the tail; if it does not, the
   * tail is read again from the store, and a call still without a result is a bug that fails the
   * run rather than running the call again.
   */
  async #pendingCalls(run: Run, tail: ThreadTail, ran: Set<string>): Promise<'answered' | ToolCall[]> {
    for (let attempt = 0; ; attempt++) {
      const msgs = tail.messages;
      const assistant = lastAssistant(run, msgs);
      if (!assistant) return [];
      if (!assistant.toolCalls?.length) return 'answered';
      const answered = new Set<string | undefined>();
      for (let i = msgs.indexOf(assistant) + 1; i < msgs.length; i++) if (msgs[i]!.role === 'tool') answered.add(msgs[i]!.toolCallId);
      const pending = assistant.toolCalls.filter((c) => !answered.has(c.id));
      if (!pending.some((c) => ran.has(c.id))) return pending;
      if (attempt > 0) {
        throw new SwitchboardError('internal', `Internal error: the result of tool call ${pending.find((c) => ran.has(c.id))!.id} is missing from the thread; the run was stopped rather than run the call twice.`);
      }
      this.#d.logger.warn('thread tail lost a tool result; reading it again from the store', { runId: run.id, threadId: run.threadId });
      await tail.reload();
    }
  }

  /** A run waiting on a delegation is making progress whenever the delegate is. */
  #progress(active: ActiveRun): void {
    const now = this.#d.clock();
    for (let a: ActiveRun | undefined = active; a; a = a.parent) a.progressAt = now;
  }

  #emit(run: Run, event: RunEvent): Promise<void> {
    if (!this.#d.events.wants(run.conversationId)) return Promise.resolve();
    return this.emitter.emit(run, event);
  }

  emitFor(runId: string, event: RunEvent): Promise<void> {
    const active = this.#active.get(runId);
    return active ? this.#emit(active.run, event) : Promise.resolve();
  }

  /** Another process reported progress of a run under this one (its delegate works there): not a stall. */
  touch(runId: string | null): void {
    const active = runId ? this.#active.get(runId) : undefined;
    if (active) this.#progress(active);
  }

}


/**
 * The run's newest assistant message. It is the newest assistant message of the thread: earlier
 * runs ended before this one began.
 */
function lastAssistant(run: Run, msgs: readonly Message[]): Message | undefined {
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i]!.runId === run.id && msgs[i]!.role === 'assistant') return msgs[i];
  return undefined;
}

/**
 * Tool call ids as the model gave them, unless one repeats within the turn (some compatible servers
 * send none, or the same one twice): a result is matched to its call by id, so each must be unique.
 */
function uniqueCallIds(calls: ToolCall[], ids: IdGenerator): ToolCall[] {
  const seen = new Set<string>();
  return calls.map((c) => {
    const id = c.id && !seen.has(c.id) ? c.id : ids('call');
    seen.add(id);
    return id === c.id ? c : { ...c, id };
  });
}
