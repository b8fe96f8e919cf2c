import type { AgentRegistry } from '../agents/registry.js';
import type { Config } from '../agents/spec.js';
import { NotAwaitingApprovalError } from '../approvals/errors.js';
import type { ApprovalService, PlanDecisions } from '../approvals/service.js';
import type { Approval, Decision } from '../approvals/types.js';
import type { Watch } from '../approvals/watch.js';
import { assertMayTakePart } from '../conversations.js';
import { ConfigError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { IdGenerator } from '../ids.js';
import type { LeaseKeeper } from '../leases/keeper.js';
import type { Logger } from '../logger.js';
import type { ModelClient } from '../model/types.js';
import type { RunEngine } from '../runs/engine.js';
import type { PlanRecord, PlanStore, PlanTransition } from '../store/plan-store.js';
import { FINAL_RUN_STATUSES, principalId, type Principal, type Store } from '../store/types.js';
import { drivePlan, type DriverDeps } from './driver.js';
import { FINAL_PLAN_STATUSES, type Plan, type PlanStatus, type StepStatus } from './types.js';

export interface PlanServiceDeps {
  plans: PlanStore;
  store: Store;
  engine: RunEngine;
  agents: AgentRegistry;
  model: ModelClient;
  events: EventBus;
  config: Config;
  ids: IdGenerator;
  clock: () => number;
  logger: Logger;
  approvals: ApprovalService;
  watch: Watch;
  /** This process's leases, shared with the run engine. */
  leases: LeaseKeeper;
}

const ACTIVE_PLAN_STATUSES: PlanStatus[] = ['planning', 'awaiting_approval', 'running'];

/** Stops a driver without touching the plan: the next process (or the next resume) carries it on. */
class DriverStop {}

/** The public view of a stored plan. */
export function publicPlan(r: PlanRecord): Plan {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { replan, summaryRunId, leaseOwner, leaseUntil, originRunId, originToolCallId, ...plan } = r;
  return plan;
}

/**
 * Plans: made by the planner, approved by people per the configured mode, carried out step by step
 * on the agents' threads, summarised by the proxy. Each plan is driven by the process holding its
 * lease; decisions and cancellations may come from any process sharing the database.
 */
export class PlanService implements PlanDecisions {
  readonly #d: PlanServiceDeps;
  readonly #driverDeps: DriverDeps;
  readonly #drivers = new Map<string, AbortController>();
  /** Transitions of this process whose events are still going out, by plan. */
  readonly #announcing = new Map<string, Promise<void>>();
  #resumeEnabled = false;
  #closed = false;

  constructor(deps: PlanServiceDeps) {
    this.#d = deps;
    this.#driverDeps = { ...deps, owner: deps.leases.owner, commit: (t, plan) => this.#commit(t, plan) };
    deps.approvals.setPlanDecisions(this);
  }

  /** Makes a plan for `goal`; resolves once it is planned and waiting for its first approval (or running, without approvals). */
  async create(conversationId: string, goal: string, principal: Principal, origin?: { runId: string; toolCallId: string }): Promise<Plan> {
    const { plans, store, ids, clock, config } = this.#d;
    const text = goal.trim();
    if (!text) throw new InvalidInputError('The goal is empty.');
    if (text.length > config.limits.maxMessageChars) throw new InvalidInputError(`The goal has ${text.length} characters; the limit is ${config.limits.maxMessageChars}.`);
    if (!this.#d.agents.planner) throw new ConfigError('No agent has the role "planner"; add one to the config to make plans.');
    const conversation = await store.getConversation(conversationId);
    if (!conversation) throw new NotFoundError('conversation', conversationId);
    assertMayTakePart(conversation, principal);
    // Making a plan is taking part (approvals.policy.who: conversation).
    await store.addParticipant(conversationId, principal);
    const now = clock();
    const { plan, created } = await plans.createPlan({
      id: ids('plan'),
      conversationId,
      goal: text,
      mode: config.approvals.plan,
      createdBy: principal,
      originRunId: origin?.runId,
      originToolCallId: origin?.toolCallId,
      leaseOwner: this.#d.leases.owner,
      leaseUntil: this.#d.leases.until(now),
      now,
    });
    if (created) void this.#announce(plan, [], true);
    this.#drive(plan.id);
    this.#startHeartbeat();
    return this.wait(plan.id, { until: plan.mode === 'none' ? 'planned' : 'settled' });
  }

  async get(planId: string, principal?: Principal): Promise<Plan> {
    const plan = await this.#d.plans.getPlan(planId);
    if (!plan) throw new NotFoundError('plan', planId);
    if (principal && !(await this.#maySee(plan, principal))) throw new ForbiddenError(`Plan "${planId}" belongs to someone else.`);
    return publicPlan(plan);
  }

  async list(filter: { conversationId?: string; principal?: Principal } = {}): Promise<Plan[]> {
    const all = await this.#d.plans.listPlans({ conversationId: filter.conversationId });
    const out: Plan[] = [];
    for (const p of all) if (!filter.principal || (await this.#maySee(p, filter.principal))) out.push(publicPlan(p));
    return out;
  }

  /** The plan's creator, the conversation's owner and whoever may decide its approvals may see and cancel it. */
  async #maySee(plan: PlanRecord, principal: Principal): Promise<boolean> {
    const who = principalId(principal);
    if (principalId(plan.createdBy) === who) return true;
    const conversation = await this.#d.store.getConversation(plan.conversationId);
    if (conversation && principalId(conversation.owner) === who) return true;
    return (await this.#d.approvals.check({ requestedBy: plan.createdBy, conversationId: plan.conversationId }, principal)).ok;
  }

  /** Cancels the plan, its pending approvals and the run of the step in progress. A finished plan is returned as it is. */
  async cancel(planId: string, principal: Principal): Promise<Plan> {
    const { plans, clock } = this.#d;
    for (let attempt = 0; attempt < 5; attempt++) {
      const plan = await plans.getPlan(planId);
      if (!plan) throw new NotFoundError('plan', planId);
      if (!(await this.#maySee(plan, principal))) throw new ForbiddenError(`Plan "${planId}" belongs to someone else; ${principalId(principal)} may not cancel it.`);
      if (FINAL_PLAN_STATUSES.includes(plan.status)) return publicPlan(plan);
      const open: StepStatus[] = ['planned', 'awaiting_approval', 'approved'];
      const steps = plan.steps
        .filter((s) => open.includes(s.status) || s.status === 'in_progress')
        .map((s) => ({
          id: s.id,
          expect: [s.status],
          patch: s.status === 'in_progress' ? { status: 'failed' as const, error: 'Cancelled with the plan while it ran.' } : { status: 'skipped' as const },
        }));
      const t: PlanTransition = {
        now: clock(),
        plan: { id: plan.id, expect: [plan.status], patch: { status: 'cancelled', error: `Cancelled by ${principalId(principal)}.`, replan: null } },
        steps,
        cancelPendingApprovalsOf: plan.id,
      };
      if (!(await this.#commit(t, plan))) continue;
      this.#drivers.get(planId)?.abort(new DriverStop());
      const runs = [...plan.steps.filter((s) => s.status === 'in_progress').map((s) => s.runId), plan.summaryRunId];
      for (const runId of runs) {
        if (!runId) continue;
        const run = await this.#d.store.getRun(runId);
        if (run && !FINAL_RUN_STATUSES.includes(run.status)) await this.#d.engine.cancel(runId, 'the plan was cancelled');
      }
      return this.get(planId);
    }
    throw new InvalidInputError(`Plan "${planId}" kept changing while it was being cancelled; try again.`);
  }

  /**
   * Resolves when the plan is `settled` (waiting for a person, or ended), `done` (ended), or
   * `planned` (past its first planning).
   */
  async wait(planId: string, opts: { until?: 'settled' | 'done' | 'planned'; signal?: AbortSignal } = {}): Promise<Plan> {
    const until = opts.until ?? 'settled';
    const reached = (p: PlanRecord) =>
      FINAL_PLAN_STATUSES.includes(p.status) ||
      (until === 'settled' && p.status === 'awaiting_approval') ||
      (until === 'planned' && p.status !== 'planning');
    const plan = await this.#d.watch.until(async () => {
      const p = await this.#d.plans.getPlan(planId);
      if (!p) throw new NotFoundError('plan', planId);
      return reached(p) ? p : undefined;
    }, opts.signal);
    await this.#announcing.get(planId);
    return publicPlan(plan);
  }

  /** The pending approval of a plan step (its own, or the whole plan's that covers it), or null. */
  async approvalForStep(stepId: string): Promise<Approval | null> {
    const step = await this.#d.plans.getStep(stepId);
    if (!step) throw new NotFoundError('plan step', stepId);
    if (!step.approvalId) return null;
    const approval = await this.#d.approvals.find(step.approvalId);
    return approval?.status === 'pending' ? approval : null;
  }

  // ---- decisions (called by the approval service) -----------------------------------------------

  async transitionFor(approval: Approval, decision: Decision, base: PlanTransition): Promise<PlanTransition> {
    const plan = approval.planId ? await this.#d.plans.getPlan(approval.planId) : null;
    if (!plan) throw new NotAwaitingApprovalError(approval.id, 'its plan no longer exists');
    if (plan.status !== 'awaiting_approval') throw new NotAwaitingApprovalError(approval.id, `the plan is ${plan.status.replace('_', ' ')}`);
    const by = principalId(decision.by);
    const feedback = decision.feedback?.trim() ?? '';
    const awaiting = plan.steps.filter((s) => s.approvalId === approval.id && s.status === 'awaiting_approval');
    const planPatch = (patch: NonNullable<PlanTransition['plan']>['patch']) => ({ id: plan.id, expect: ['awaiting_approval' as const], patch });
    if (approval.kind === 'plan' && approval.stepId && awaiting.length === 0) {
      // After a failed step: revise, or stop.
      const step = plan.steps.find((s) => s.id === approval.stepId);
      const error = step?.error ?? 'it failed';
      if (decision.approve) return { ...base, plan: planPatch({ status: 'planning', replan: { kind: 'failed', stepId: approval.stepId, error, feedback, by } }) };
      return { ...base, plan: planPatch({ status: 'failed', error: `Step ${step?.index ?? '?'} (${step?.agent ?? '?'}) failed: ${error}. ${by} stopped the plan${feedback ? `: ${feedback}` : '.'}` }) };
    }
    if (awaiting.length === 0) {
      const step = plan.steps.find((s) => s.id === approval.stepId);
      throw new NotAwaitingApprovalError(approval.id, step ? `step ${step.index} is ${step.status.replace('_', ' ')}` : 'its step was replaced by a revision');
    }
    if (decision.approve) {
      const action = decision.action?.trim();
      return {
        ...base,
        plan: planPatch({ status: 'running' }),
        steps: awaiting.map((s) => ({ id: s.id, expect: ['awaiting_approval'], patch: { status: 'approved', ...(action ? { action } : {}) } })),
      };
    }
    return {
      ...base,
      plan: planPatch({ status: 'planning', replan: { kind: 'rejected', stepId: approval.kind === 'plan_step' ? approval.stepId : undefined, feedback, by } }),
      steps: awaiting.map((s) => ({ id: s.id, expect: ['awaiting_approval'], patch: { status: 'rejected' } })),
    };
  }

  apply(transition: PlanTransition): Promise<boolean> {
    return this.#d.plans.transition(transition);
  }

  decided(approval: Approval): void {
    if (!approval.planId) return;
    void this.#d.plans.getPlan(approval.planId).then((plan) => {
      if (!plan) return;
      void this.#announce(plan, plan.steps.filter((s) => s.approvalId === approval.id).map((s) => s.id), true);
      // Carry the plan on here when nobody else does (e.g. its process died and this one decides).
      if (this.#resumeEnabled) void this.resume();
    }, () => {});
  }

  // ---- driving, leases and resumption ------------------------------------------------------------

  /**
   * Takes over unfinished plans whose process is gone (lease expired, or a dead process on this
   * host) and drives them. Called at start-up and on the heartbeat when resumption is on.
   */
  async resume(): Promise<number> {
    this.#resumeEnabled = true;
    this.#startHeartbeat();
    const { plans, clock, leases } = this.#d;
    let taken = 0;
    for (const plan of await plans.listPlans({ statuses: ACTIVE_PLAN_STATUSES })) {
      if (this.#drivers.has(plan.id) || this.#closed) continue;
      const now = clock();
      const at = leases.claimTime(plan, now);
      if (at === null || !(await plans.claimPlan(plan.id, leases.owner, leases.until(now), at))) continue;
      taken++;
      this.#d.logger.info('resuming plan', { planId: plan.id, status: plan.status });
      this.#drive(plan.id);
    }
    return taken;
  }

  #drive(planId: string): void {
    if (this.#drivers.has(planId) || this.#closed) return;
    const controller = new AbortController();
    this.#drivers.set(planId, controller);
    void drivePlan(this.#driverDeps, planId, controller.signal)
      .catch((err: unknown) => {
        if (controller.signal.aborted || this.#closed) return;
        this.#d.logger.error('plan driver failed', { planId, error: err });
      })
      .finally(() => {
        if (this.#drivers.get(planId) === controller) this.#drivers.delete(planId);
      });
  }

  /** The keeper renews this process's plan leases and, once resumption is on, takes over orphaned plans on its beat. */
  #startHeartbeat(): void {
    if (this.#closed) return;
    this.#d.leases.keep('plans', {
      renew: (owner, until) => this.#d.plans.renewPlanLeases(owner, until),
      adopt: async () => {
        if (this.#resumeEnabled) await this.resume();
      },
    });
  }

  /** Stops driving (plans stay as they are) and gives up the leases, so another process may go on at once. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#d.leases.drop('plans');
    for (const c of this.#drivers.values()) c.abort(new DriverStop());
    this.#drivers.clear();
    await this.#d.plans.releasePlanLeases(this.#d.leases.owner).catch(() => {});
  }

  async #commit(t: PlanTransition, before: PlanRecord): Promise<boolean> {
    // A waiter here that reads the new state before its events went out waits for them (see `wait`).
    let announced!: () => void;
    const announcing = new Promise<void>((resolve) => (announced = resolve));
    this.#announcing.set(before.id, announcing);
    try {
      return await this.#commitAndAnnounce(t, before);
    } finally {
      announced();
      if (this.#announcing.get(before.id) === announcing) this.#announcing.delete(before.id);
    }
  }

  async #commitAndAnnounce(t: PlanTransition, before: PlanRecord): Promise<boolean> {
    if (!(await this.#d.plans.transition(t))) return false;
    // Its events are delivered before anyone waiting on the plan wakes (a waiter reads them next).
    if (this.#d.events.wants(before.conversationId)) {
      const plan = await this.#d.plans.getPlan(before.id);
      const approval = t.insertApproval ? await this.#d.approvals.find(t.insertApproval.id) : null;
      if (plan) {
        const changed = plan.steps.filter((s) => before.steps.find((b) => b.id === s.id)?.status !== s.status).map((s) => s.id);
        await this.#announce(plan, changed, before.status !== plan.status, approval ?? undefined);
      }
    }
    this.#d.watch.notify();
    return true;
  }

  /** `plan.updated` for the plan (when its status changed) and for each changed step; `approval.requested` for a new approval. */
  #announce(plan: PlanRecord, changedSteps: string[], planChanged: boolean, approval?: Approval): Promise<unknown> {
    const { events, clock } = this.#d;
    const emitted: Promise<void>[] = [];
    const base = { conversationId: plan.conversationId, planId: plan.id, status: plan.status, revision: plan.revision, depth: 0, error: plan.error };
    if (planChanged || changedSteps.length === 0) {
      emitted.push(events.emit({ ...base, type: 'plan.updated', runId: '', agent: this.#d.agents.planner?.name ?? 'planner', at: clock() }));
    }
    for (const s of plan.steps.filter((x) => changedSteps.includes(x.id))) {
      emitted.push(events.emit({ ...base, type: 'plan.updated', runId: s.runId ?? '', agent: s.agent, at: clock(), stepId: s.id, stepStatus: s.status }));
    }
    if (approval) {
      emitted.push(
        events.emit({
          type: 'approval.requested',
          conversationId: plan.conversationId,
          runId: '',
          agent: approval.agent,
          depth: 0,
          at: clock(),
          approvalId: approval.id,
          kind: approval.kind,
          summary: approval.summary,
          planId: plan.id,
          stepId: approval.stepId,
        }),
      );
    }
    return Promise.all(emitted);
  }
}

