/**
 * Plan and approval cards, kept current from the conversation events of every Slack conversation:
 * a plan is one message updated in place as its steps are decided, run and finish (then its summary
 * follows in the thread); a tool call waiting for approval anywhere in a delegation chain gets its own
 * card. Where each card lives is a surface reference in the store, so any replica (or this one after a
 * restart) edits the same message; claiming the reference makes exactly one replica post it.
 */
import type { ApprovalView, Logger, SwitchboardEvent } from '../../index.js';
import { approvalCard } from '../shared/approval-view.js';
import { planView, type StepDecision } from '../shared/plan-view.js';
import { approvalMessage, esc, planMessage, textMessages, type SlackMessage } from './blocks.js';
import type { SlackClients } from './clients.js';
import type { Json, SlackEngine } from './engine.js';
import { SURFACE, type ConversationRef, type MessageRef } from './refs.js';

export interface CardDeps {
  engine: SlackEngine;
  clients: SlackClients;
  logger: Logger;
}

export class CardKeeper {
  readonly #queues = new Map<string, Promise<void>>();
  readonly #decided = new Map<string, StepDecision>();
  /** Updates handed to the workspace budget, not sent yet (a newer render of the same card replaces them). */
  readonly #sending = new Set<Promise<void>>();
  #off: (() => void) | null = null;

  constructor(private readonly deps: CardDeps) {}

  /** Follows the events of every conversation (local and other replicas'). */
  start(on: (id: '*', listener: (e: SwitchboardEvent) => void) => () => void): void {
    this.#off = on('*', (e) => this.handle(e));
  }

  stop(): void {
    this.#off?.();
  }

  /** Resolves when every card job queued so far is done (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#queues.size > 0 || this.#sending.size > 0) await Promise.all([...this.#queues.values(), ...this.#sending]);
  }

  handle(e: SwitchboardEvent): void {
    if (e.type === 'plan.updated') return this.#serial(`plan:${e.planId}`, async () => void (await this.renderPlan(e.conversationId, e.planId)));
    if (e.type === 'approval.requested' || e.type === 'approval.decided') {
      const asked = e.type === 'approval.requested';
      if (!e.planId) return this.#serial(`approval:${e.approvalId}`, () => this.renderApproval(e.conversationId, e.approvalId, asked));
      return this.#serial(`plan:${e.planId}`, async () => {
        const onPlan = await this.renderPlan(e.conversationId, e.planId!);
        // An approval no step of the card waits on (the plan after a failed step) gets a card of its own.
        if (!onPlan.has(e.approvalId)) await this.renderApproval(e.conversationId, e.approvalId, asked);
      });
    }
  }

  /** One job at a time per card: renders never overtake each other on this replica. */
  #serial(key: string, job: () => Promise<void>): void {
    const prev = this.#queues.get(key) ?? Promise.resolve();
    const next = prev
      .then(job)
      .catch((err: unknown) => this.deps.logger.warn('Slack card update failed', { card: key, error: err }))
      .finally(() => {
        if (this.#queues.get(key) === next) this.#queues.delete(key);
      });
    this.#queues.set(key, next);
  }

  /** Renders the plan's card; returns the approval ids whose buttons it shows. */
  async renderPlan(conversationId: string, planId: string): Promise<Set<string>> {
    const where = await this.#conversation(conversationId);
    if (!where) return new Set();
    const plan = await this.deps.engine.getPlan(planId);
    const decisions = new Map<string, StepDecision>();
    for (const s of plan.steps) {
      if (!s.approvalId || s.status === 'awaiting_approval' || s.status === 'planned') continue;
      const d = await this.#decision(s.approvalId);
      if (d) decisions.set(s.approvalId, d);
    }
    const view = planView(plan, decisions);
    const placed = await this.#place(where, 'plan', planId, planMessage(view), { existingTs: where.planMessageTs });
    if (view.done && view.summary) {
      const summary = view.summary;
      // The summary follows once the card shows the plan's end (its update may wait for its turn in the
      // budget; the card's queue goes on meanwhile, so later renders still replace that update).
      this.#track(
        (async () => {
          await placed.update;
          const { claimed } = await this.deps.engine.refs.claim(SURFACE, 'plan', `${planId}#summary`, { posted: true });
          if (claimed) for (const m of textMessages(summary)) await this.deps.clients.main(where.team).chat.postMessage({ channel: where.channel, thread_ts: where.threadTs, ...m });
        })().catch((err: unknown) => this.deps.logger.warn('Slack plan summary not posted', { planId, error: err })),
      );
    }
    return new Set(view.steps.filter((s) => s.awaiting && s.approvalId).map((s) => s.approvalId!));
  }

  /** `post` false: only a card already posted is updated (a decision never posts a new card). */
  async renderApproval(conversationId: string, approvalId: string, post = true): Promise<void> {
    const where = await this.#conversation(conversationId);
    if (!where) return;
    const view = await this.deps.engine.approvalView(approvalId);
    await this.#place(where, 'approval', approvalId, approvalMessage(approvalCard(view, { nameOf: displayName, escape: esc })), { post });
  }

  /**
   * Posts the card once (the replica that claims it), or updates it in place within the workspace budget;
   * `update` resolves once the scheduled update is sent (or replaced by a newer one); it is not awaited here.
   */
  async #place(where: ConversationRef, kind: 'plan' | 'approval', id: string, message: SlackMessage, opts: { existingTs?: string; post?: boolean } = {}): Promise<{ update?: Promise<void> }> {
    const refs = this.deps.engine.refs;
    const client = this.deps.clients.main(where.team);
    const existingTs = opts.existingTs;
    let ref = (await refs.get(SURFACE, kind, id)) as MessageRef | null;
    if (!ref) {
      if (opts.post === false && !existingTs) return {};
      const { claimed, data } = await refs.claim(SURFACE, kind, id, { channel: where.channel, ts: existingTs ?? null } as Json);
      ref = data as unknown as MessageRef;
      if (claimed && !existingTs) {
        const r = await client.chat.postMessage({ channel: where.channel, thread_ts: where.threadTs, ...message });
        ref = { channel: where.channel, ts: r.ts ?? null };
        await refs.put(SURFACE, kind, id, ref as unknown as Json);
        return {};
      }
    }
    // Another replica is posting it right now; its post shows the state it read, and the next event updates it.
    if (!ref.ts) return {};
    const ts = ref.ts;
    // Not awaited: the next render may replace this update while it waits for its turn in the budget.
    const sent = this.deps.clients.updates(where.team).schedule(`${ref.channel}:${ts}`, () => client.chat.update({ channel: ref.channel, ts, ...message }));
    this.#track(sent);
    return { update: sent };
  }

  /** Work that outlives its render (an update waiting for its budget, a summary waiting for it): idle() waits for it. */
  #track(p: Promise<void>): void {
    this.#sending.add(p);
    void p.finally(() => this.#sending.delete(p));
  }

  async #conversation(conversationId: string): Promise<ConversationRef | null> {
    return (await this.deps.engine.refs.get(SURFACE, 'conversation', conversationId)) as ConversationRef | null;
  }

  async #decision(approvalId: string): Promise<StepDecision | null> {
    const cached = this.#decided.get(approvalId);
    if (cached) return cached;
    const view: ApprovalView = await this.deps.engine.approvalView(approvalId);
    if (view.status !== 'approved' && view.status !== 'rejected') return null;
    const d: StepDecision = { approved: view.status === 'approved', by: view.decidedBy ? displayName(view.decidedBy) : 'someone', ...(view.feedback ? { feedback: view.feedback } : {}) };
    // A decision never changes once made.
    this.#decided.set(approvalId, d);
    return d;
  }
}

/** How a principal shows on a card: a Slack user as a mention, anyone else by id. */
export function displayName(p: { surface: string; userId: string; displayName?: string }): string {
  if (p.surface === 'slack') return `<@${p.userId}>`;
  return p.displayName ?? `${p.surface}:${p.userId}`;
}
