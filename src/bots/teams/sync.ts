/**
 * Plan and approval cards follow the engine, whichever replica did the work: every stored
 * `approval.requested`, `approval.decided` and `plan.updated` (local or from another process) makes
 * the card current — posted once (the surface reference is claimed, so exactly one replica posts it)
 * and afterwards edited in place with `updateActivity`. Universal Actions' `refresh` cannot do this
 * alone (it serves at most 60 users and only cards older than a minute); it only personalises buttons.
 */
import { approvalCard, cardAttachment, planCard, type Card, type CardOptions, type StepDecisionInfo } from './cards.js';
import type { Target, TeamsConnector } from './connector.js';
import type { Json, Plan, Principal, SwitchboardEvent } from '../../index.js';
import type { TeamsEngine } from './engine.js';
import { realClock, type Clock } from './limits.js';
import type { OpenStreams } from './streaming.js';

export interface ConversationRef extends Target {
  personal: boolean;
  /** Teams ids (29:…) of people who wrote here lately: their cards refresh to their own buttons. */
  userIds?: string[];
}

export interface CardRef {
  activityId: string | null;
  target: Target;
  /** When the posting replica claimed the card (activityId still null): a claim this old is taken over. */
  claimedAt?: number;
}

/** A claim with no card behind it after this long was left by a process that stopped mid-post. */
export const STALE_CLAIM_MS = 5 * 60_000;

export function nameOf(p: Principal | null | undefined): string {
  return p ? (p.displayName ?? p.userId) : 'someone';
}

export async function planDecisions(engine: TeamsEngine, plan: Plan): Promise<Map<string, StepDecisionInfo>> {
  const out = new Map<string, StepDecisionInfo>();
  await Promise.all(
    plan.steps
      .filter((s) => s.approvalId && s.status !== 'awaiting_approval' && s.status !== 'planned')
      .map(async (s) => {
        const v = await engine.approvalView(s.approvalId!).catch(() => null);
        if (v && v.status !== 'pending' && v.status !== 'cancelled') out.set(s.approvalId!, { by: nameOf(v.decidedBy), approved: v.status === 'approved', ...(v.feedback ? { feedback: v.feedback } : {}) });
      }),
  );
  return out;
}

export async function renderPlan(engine: TeamsEngine, planId: string, opts: CardOptions = {}, principal?: Principal): Promise<Card> {
  const plan = await engine.getPlan(planId, principal);
  return planCard(plan, await planDecisions(engine, plan), opts);
}

export async function renderApproval(engine: TeamsEngine, approvalId: string, opts: CardOptions = {}, principal?: Principal): Promise<Card> {
  return approvalCard(await engine.approvalView(approvalId, principal), opts);
}

export class CardSync {
  readonly #engine: TeamsEngine;
  readonly #connector: TeamsConnector;
  readonly #onError: (err: unknown) => void;
  readonly #running = new Map<string, { again: boolean; done: Promise<void> }>();
  /** The card last sent per plan/approval by this process: an edit that would change nothing is skipped. */
  readonly #last = new Map<string, string>();

  readonly #streams: OpenStreams | undefined;
  readonly #clock: Clock;

  constructor(engine: TeamsEngine, connector: TeamsConnector, onError: (err: unknown) => void, opts: { streams?: OpenStreams; clock?: Clock } = {}) {
    this.#engine = engine;
    this.#connector = connector;
    this.#onError = onError;
    this.#streams = opts.streams;
    this.#clock = opts.clock ?? realClock;
  }

  start(): () => void {
    return this.#engine.on('*', (e) => this.#onEvent(e));
  }

  /** Resolves when every card sync started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size) await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  #onEvent(e: SwitchboardEvent): void {
    if (e.type === 'plan.updated') return this.sync('plan', e.planId, e.conversationId);
    if (e.type === 'approval.requested' || e.type === 'approval.decided') {
      if (e.planId) return this.sync('plan', e.planId, e.conversationId);
      if (e.type === 'approval.requested' && e.kind !== 'tool_call') return;
      return this.sync('approval', e.approvalId, e.conversationId);
    }
  }

  /** Makes the card of a plan or a tool approval current; concurrent calls for one card coalesce. */
  sync(kind: 'plan' | 'approval', id: string, conversationId: string): void {
    const key = `${kind}:${id}`;
    const running = this.#running.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      do {
        entry.again = false;
        await this.#syncOnce(kind, id, conversationId).catch(this.#onError);
      } while (entry.again);
      this.#running.delete(key);
    })();
    this.#running.set(key, entry);
  }

  async #syncOnce(kind: 'plan' | 'approval', id: string, conversationId: string): Promise<void> {
    const conv = (await this.#engine.refs.get('teams', 'conversation', conversationId)) as unknown as ConversationRef | null;
    if (!conv) return; // not a Teams conversation
    const target: Target = { serviceUrl: conv.serviceUrl, conversationId: conv.conversationId, ...(conv.tenantId ? { tenantId: conv.tenantId } : {}) };
    const opts: CardOptions = { refreshUserIds: conv.userIds ?? [] };
    const card = kind === 'plan' ? await renderPlan(this.#engine, id, opts) : await renderApproval(this.#engine, id, opts);
    const activity = { type: 'message' as const, attachments: [cardAttachment(card)] };
    const claimCard = () => this.#engine.refs.claim('teams', kind, id, { activityId: null, target, claimedAt: this.#clock.now() } satisfies CardRef as unknown as Json);
    let claim = await claimCard();
    let ref = claim.data as unknown as CardRef;
    if (!claim.claimed && !ref.activityId && !(this.#clock.now() - (ref.claimedAt ?? 0) < STALE_CLAIM_MS)) {
      // Claimed long ago and never posted: the claiming process stopped mid-post. Take it over (one replica wins the new claim).
      await this.#engine.refs.delete('teams', kind, id);
      claim = await claimCard();
      ref = claim.data as unknown as CardRef;
    }
    if (claim.claimed) {
      let activityId: string;
      try {
        // A reply streaming in this chat ends its stream on the approval this card shows: post after that.
        await this.#streams?.settled(target.conversationId, this.#clock);
        activityId = await this.#connector.send(target, activity);
      } catch (err) {
        // Let the next event (or replica) post it instead of leaving a claim with no card behind it.
        await this.#engine.refs.delete('teams', kind, id).catch(() => undefined);
        throw err;
      }
      await this.#engine.refs.put('teams', kind, id, { activityId, target } as unknown as Json);
      this.#last.set(`${kind}:${id}`, JSON.stringify(card));
      return;
    }
    // Another replica is posting it right now; its post renders the state as it is then.
    if (!ref.activityId) return;
    const json = JSON.stringify(card);
    if (this.#last.get(`${kind}:${id}`) === json) return;
    await this.#connector.update(ref.target, ref.activityId, activity);
    this.#last.set(`${kind}:${id}`, json);
    if (this.#last.size > 1_000) this.#last.delete(this.#last.keys().next().value!);
  }
}
