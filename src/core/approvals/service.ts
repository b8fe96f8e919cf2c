import { InvalidInputError, NotFoundError, ForbiddenError } from '../errors.js';
import type { EventBus, EventInput } from '../events.js';
import type { IdGenerator } from '../ids.js';
import type { ToolApprovalRequest } from '../runs/approval-gate.js';
import { runTreeOf } from '../runs/emit.js';
import type { ApprovalPatch, ApprovalStore } from '../store/approval-store.js';
import type { PlanTransition } from '../store/plan-store.js';
import { FINAL_RUN_STATUSES, principalId, type Principal, type Store } from '../store/types.js';
import { NotAwaitingApprovalError } from './errors.js';
import { mayDecide, type ApprovalPolicy, type PolicyVerdict } from './policy.js';
import { describeToolCall } from './summary.js';
import type { Approval, ApprovalStatus, DecideResult, Decision } from './types.js';
import type { Watch } from './watch.js';

const MAX_FEEDBACK = 4_000;

/** Turns a decision on a plan approval into its transition; supplied by the plans module. */
export interface PlanDecisions {
  /** The transition that applies `decision` (the approval's own patch is in `base`); throws NotAwaitingApprovalError. */
  transitionFor(approval: Approval, decision: Decision, base: PlanTransition): Promise<PlanTransition>;
  /** Stores the transition atomically (the plan store's `transition`); false when an expectation failed. */
  apply(transition: PlanTransition): Promise<boolean>;
  /** Called once the decision is stored. */
  decided(approval: Approval): void;
}

export interface ApprovalServiceDeps {
  /** Where approvals are kept; plans are reached only through `setPlanDecisions`, to decide plan approvals. */
  approvals: ApprovalStore;
  store: Store;
  events: EventBus;
  policy: ApprovalPolicy;
  ids: IdGenerator;
  clock: () => number;
  watch: Watch;
}

/**
 * Approvals: asking (idempotently, so a resumed run asks for the same one), deciding (the policy is
 * checked on every decision; the first decision stands) and waiting for the decision, which may come
 * from this process or from another one sharing the database.
 */
export class ApprovalService {
  readonly #d: ApprovalServiceDeps;
  /** Decisions this process has announced (decided here, or seen from another process). */
  readonly #announced = new Set<string>();
  #planDecisions: PlanDecisions | undefined;

  constructor(deps: ApprovalServiceDeps) {
    this.#d = deps;
  }

  setPlanDecisions(handler: PlanDecisions): void {
    this.#planDecisions = handler;
  }

  async get(id: string): Promise<Approval> {
    const approval = await this.#d.approvals.getApproval(id);
    if (!approval) throw new NotFoundError('approval', id);
    return approval;
  }

  async find(id: string): Promise<Approval | null> {
    return this.#d.approvals.getApproval(id);
  }

  /** Approvals, oldest first; with `principal`, only those the policy lets that principal decide. */
  async list(filter: { conversationId?: string; planId?: string; status?: ApprovalStatus; principal?: Principal } = {}): Promise<Approval[]> {
    const all = await this.#d.approvals.listApprovals({ conversationId: filter.conversationId, planId: filter.planId, status: filter.status });
    if (!filter.principal) return all;
    const out: Approval[] = [];
    for (const a of all) if ((await this.check(a, filter.principal)).ok) out.push(a);
    return out;
  }

  /** Whether `by` may decide an approval (of this conversation, asked for this requester), and if not, why. */
  async check(approval: Pick<Approval, 'conversationId' | 'requestedBy'>, by: Principal): Promise<PolicyVerdict> {
    const conversation = await this.#d.store.getConversation(approval.conversationId);
    if (!conversation) return { ok: false, reason: `Conversation ${approval.conversationId} no longer exists.` };
    return mayDecide(this.#d.policy, approval, conversation, by, () => this.#d.store.isParticipant(approval.conversationId, by));
  }

  async decide(id: string, decision: Decision): Promise<DecideResult> {
    const { clock } = this.#d;
    const approval = await this.get(id);
    const verdict = await this.check(approval, decision.by);
    if (!verdict.ok) throw new ForbiddenError(verdict.reason);
    if (approval.status === 'approved' || approval.status === 'rejected') return { approval, alreadyDecided: true };
    if (approval.status === 'cancelled') throw new NotAwaitingApprovalError(id, `it was cancelled${approval.feedback ? ` (${approval.feedback})` : ''}`);
    const feedback = decision.feedback?.trim() || undefined;
    if (feedback && feedback.length > MAX_FEEDBACK) throw new InvalidInputError(`Feedback has ${feedback.length} characters; the limit is ${MAX_FEEDBACK}.`);
    const action = decision.action?.trim();
    if (decision.action !== undefined) {
      if (approval.kind !== 'plan_step') throw new InvalidInputError('Only a plan step can be approved with an edited action.');
      if (!decision.approve) throw new InvalidInputError('An edited action goes with an approval, not a rejection: reject with feedback instead.');
      if (!action) throw new InvalidInputError('The edited action is empty.');
    }
    const now = clock();
    const patch: ApprovalPatch = { status: decision.approve ? 'approved' : 'rejected', decidedBy: decision.by, feedback: feedback ?? null, action: action ?? null, decidedAt: now };
    let stored: Promise<boolean>;
    let depth = 0;
    if (approval.kind === 'tool_call') {
      const run = approval.runId ? await this.#d.store.getRun(approval.runId) : null;
      if (!run || FINAL_RUN_STATUSES.includes(run.status)) {
        await this.cancel(id, `the run ${run ? `was ${run.status}` : 'no longer exists'}`);
        throw new NotAwaitingApprovalError(id, `the run that asked ${run ? `was ${run.status}` : 'no longer exists'}`);
      }
      depth = run.depth;
      // Announced with the write where the log can (SQLite): a process that sees the decision finds its event.
      // With its run tree filled in, so that nothing is left to look up inside the transaction.
      const tree = await runTreeOf(this.#d.store, this.#d.events, run);
      const event = this.#decidedEvent({ ...approval, status: patch.status!, decidedBy: decision.by, feedback, planId: approval.planId ?? tree.planId ?? undefined }, depth);
      const withTree = { ...event, rootRunId: tree.rootRunId, parentRunId: tree.parentRunId };
      stored = this.#d.events.around(() => this.#d.approvals.updateApproval(id, ['pending'], patch), (ok) => (ok && this.#mark(id) ? [withTree] : [])).result;
    } else {
      const plans = this.#planDecisions;
      if (!plans) throw new NotAwaitingApprovalError(id, 'plans are not available in this process');
      // A plan approval is decided together with what it decides for the plan, in one transition.
      stored = plans.transitionFor(approval, decision, { now, approval: { id, expect: ['pending'], patch } }).then((t) => plans.apply(t));
    }
    if (!(await stored)) {
      const now = await this.get(id);
      if (now.status === 'approved' || now.status === 'rejected') return { approval: now, alreadyDecided: true };
      throw new NotAwaitingApprovalError(id, now.status === 'cancelled' ? 'it was cancelled' : 'what it decides has moved on');
    }
    const decided = await this.get(id);
    this.#announce(decided, depth);
    if (approval.kind !== 'tool_call') this.#planDecisions?.decided(decided);
    this.#d.watch.notify();
    return { approval: decided, alreadyDecided: false };
  }

  /** Cancels a pending approval (its run or plan ended); false when it was no longer pending. */
  async cancel(id: string, reason: string): Promise<boolean> {
    const now = this.#d.clock();
    const ok = await this.#d.approvals.updateApproval(id, ['pending'], { status: 'cancelled', feedback: reason, decidedAt: now });
    if (ok) {
      this.#announce(await this.get(id));
      this.#d.watch.notify();
    }
    return ok;
  }

  /**
   * The approval of a tool call: created on the first request, the same one (pending or decided) on
   * every later request for the same run and call, so a resumed run never asks twice.
   */
  async requestToolApproval(req: ToolApprovalRequest): Promise<Approval> {
    const { run, agent, tool, args, toolCallId } = req;
    const parent = run.parentRunId ? await this.#d.store.getRun(run.parentRunId) : null;
    // Announced on every request (after a restart, this process's listeners have not seen it yet), in the write's transaction where the log can.
    const base = { conversationId: run.conversationId, runId: run.id, agent: agent.name, depth: run.depth, at: this.#d.clock() };
    const written = this.#d.events.around(() => this.#d.approvals.createToolApproval({
      id: this.#d.ids('apr'),
      conversationId: run.conversationId,
      kind: 'tool_call',
      runId: run.id,
      toolCallId,
      agent: agent.name,
      toolName: tool.name,
      summary: describeToolCall(agent.name, tool.name, args, parent?.agent),
      arguments: args,
      requestedBy: run.requestedBy,
      createdAt: this.#d.clock(),
    }), ({ approval }) =>
      approval.status !== 'pending'
        ? []
        : [
            { ...base, type: 'approval.requested', approvalId: approval.id, kind: approval.kind, summary: approval.summary, toolName: tool.name },
            { ...base, type: 'run.requires_action', approvalId: approval.id },
          ],
    );
    return (await written.result).approval;
  }

  /** Resolves once the approval is no longer pending, however and wherever it was decided. */
  async waitForDecision(id: string, opts: { signal?: AbortSignal; depth?: number } = {}): Promise<Approval> {
    return this.#d.watch.until(async () => {
      const approval = await this.get(id);
      if (approval.status === 'pending') return undefined;
      // Decided here: announced by `decide`/`cancel`. Decided by another process on the same event log: that
      // process stored the event (SQLite: with the decision), so it is not stored again; it reaches listeners here
      // through the log, which catches up now so that they hear of it before the run goes on. Without a log,
      // this announcement is all they hear.
      const log = this.#d.events.log;
      if (!log) this.#announce(approval, opts.depth);
      else if (!this.#announced.has(id)) log.catchUp?.();
      return approval;
    }, opts.signal);
  }

  /** Emits `approval.decided` once per approval in this process. */
  #announce(approval: Approval, depth = 0): void {
    if (this.#mark(approval.id)) void this.#d.events.emit(this.#decidedEvent(approval, depth));
  }

  /** Records that this process announces the approval's decision; false when it did already. */
  #mark(id: string): boolean {
    if (this.#announced.has(id)) return false;
    this.#announced.add(id);
    if (this.#announced.size > 10_000) this.#announced.delete(this.#announced.values().next().value!);
    return true;
  }

  #decidedEvent(approval: Approval, depth: number): EventInput {
    return {
      type: 'approval.decided',
      conversationId: approval.conversationId,
      runId: approval.runId ?? '',
      agent: approval.agent,
      depth,
      at: this.#d.clock(),
      approvalId: approval.id,
      approved: approval.status === 'approved',
      by: approval.decidedBy ? principalId(approval.decidedBy) : 'switchboard',
      status: approval.status,
      feedback: approval.feedback,
      planId: approval.planId,
    };
  }
}
