import type { AgentRegistry } from '../agents/registry.js';
import type { ApprovalService } from '../approvals/service.js';
import type { NewApproval } from '../approvals/types.js';
import type { Watch } from '../approvals/watch.js';
import type { IdGenerator } from '../ids.js';
import type { Logger } from '../logger.js';
import type { ModelClient } from '../model/types.js';
import type { RunEngine } from '../runs/engine.js';
import type { PlanRecord, PlanStore, PlanTransition } from '../store/plan-store.js';
import type { Run, Store } from '../store/types.js';
import { abortable } from './abortable.js';
import { askPlanner } from './planner.js';
import {
  failureApprovalSummary,
  fallbackSummary,
  planApprovalSummary,
  revisionRequest,
  stepApprovalSummary,
  stepInput,
  summaryInput,
} from './prompts.js';
import { DONE_STEP_STATUSES, FINAL_PLAN_STATUSES, type PlanStep, type StepStatus } from './types.js';

export interface DriverDeps {
  plans: PlanStore;
  /** The plan's pending approvals are looked up here (approvals are stored on their own). */
  approvals: Pick<ApprovalService, 'list'>;
  store: Store;
  engine: RunEngine;
  agents: AgentRegistry;
  model: ModelClient;
  ids: IdGenerator;
  clock: () => number;
  logger: Logger;
  watch: Watch;
  /** The lease owner of this process. */
  owner: string;
  /** Applies a transition and announces it (events, waiters); false when an expectation failed. */
  commit(t: PlanTransition, plan: PlanRecord): Promise<boolean>;
}

/** Steps a revision replaces: everything not yet started. */
const REPLACEABLE: readonly StepStatus[] = ['planned', 'awaiting_approval', 'approved'];

/**
 * Carries a plan forward until it ends or needs a person. Like the run loop, its state is what the
 * store holds: each pass reads the plan and does the one thing its state calls for, and every
 * change is a compare-and-set transition persisted before anything acts on it. A restarted process
 * resumes a plan by simply driving it again.
 */
export async function drivePlan(d: DriverDeps, planId: string, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const plan = await d.plans.getPlan(planId);
    if (!plan || FINAL_PLAN_STATUSES.includes(plan.status)) return;
    // Another process took the plan over (this one was presumed dead): it carries it on.
    if (plan.leaseOwner !== d.owner) return;
    await advance(d, plan, signal);
  }
}

async function advance(d: DriverDeps, plan: PlanRecord, signal: AbortSignal): Promise<void> {
  if (plan.status === 'planning') return makePlan(d, plan, signal);
  if (plan.status === 'awaiting_approval') return awaitDecision(d, plan, signal);
  const step = plan.steps.find((s) => !DONE_STEP_STATUSES.includes(s.status));
  if (!step) return finish(d, plan, signal);
  switch (step.status) {
    case 'planned':
      return requestApproval(d, plan, step);
    case 'awaiting_approval':
      // Only reachable through a hand-edited database: wait for the step's decision like any other.
      await d.commit({ now: d.clock(), plan: { id: plan.id, expect: ['running'], patch: { status: 'awaiting_approval' } } }, plan);
      return;
    case 'approved':
      await d.commit({ now: d.clock(), plan: { id: plan.id, expect: ['running'], patch: {} }, steps: [{ id: step.id, expect: ['approved'], patch: { status: 'in_progress', runId: d.ids('run') } }] }, plan);
      return;
    case 'in_progress':
      return runStep(d, plan, step, signal);
    default:
      return;
  }
}

async function makePlan(d: DriverDeps, plan: PlanRecord, signal: AbortSignal): Promise<void> {
  const now = () => d.clock();
  const planner = d.agents.planner;
  let result: Awaited<ReturnType<typeof askPlanner>>;
  if (!planner) {
    result = { error: 'No agent has the role "planner"; add one to the config to make plans.', usage: { promptTokens: 0, completionTokens: 0 }, calls: 0 };
  } else {
    try {
      result = await askPlanner(d.model, d.agents, planner, { goal: plan.goal, revision: plan.replan ? revisionRequest(plan, plan.replan) : undefined, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      result = { error: `The planner could not answer: ${(err as Error).message}`, usage: { promptTokens: 0, completionTokens: 0 }, calls: 0 };
    }
  }
  const usage = {
    promptTokens: plan.usage.promptTokens + result.usage.promptTokens,
    completionTokens: plan.usage.completionTokens + result.usage.completionTokens,
    modelCalls: plan.usage.modelCalls + result.calls,
  };
  const expect = { id: plan.id, expect: ['planning' as const], expectRevision: plan.revision };
  if ('error' in result) {
    d.logger.warn('planning failed', { planId: plan.id, error: result.error });
    await d.commit({ now: now(), plan: { ...expect, patch: { status: 'failed', error: result.error, usage, replan: null } }, cancelPendingApprovalsOf: plan.id }, plan);
    return;
  }
  const revision = plan.revision + 1;
  const wholePlanRejected = plan.replan?.kind === 'rejected' && !plan.replan.stepId;
  const supersede = plan.steps
    .filter((s) => REPLACEABLE.includes(s.status) || (wholePlanRejected && s.status === 'rejected' && s.revision === plan.revision))
    .map((s) => s.id);
  await d.commit(
    {
      now: now(),
      plan: { ...expect, patch: { status: 'running', revision, replan: null, usage } },
      supersede,
      cancelPendingApprovalsOf: plan.id,
      insertSteps: result.steps.map((s) => ({ id: d.ids('step'), planId: plan.id, agent: s.agent, action: s.action, revision })),
    },
    plan,
  );
}

/** Waits until the plan stops waiting for a person (a decision, a cancellation, a takeover). */
async function awaitDecision(d: DriverDeps, plan: PlanRecord, signal: AbortSignal): Promise<void> {
  const pending = await d.approvals.list({ planId: plan.id, status: 'pending' });
  if (pending.length === 0) {
    // A decision moves the plan on in its own transaction, so this cannot happen short of a hand edit: ask again.
    d.logger.warn('plan awaits approval but none is pending; asking again', { planId: plan.id });
    const steps = plan.steps.filter((s) => s.status === 'awaiting_approval').map((s) => ({ id: s.id, expect: ['awaiting_approval' as const], patch: { status: 'planned' as const, approvalId: null } }));
    await d.commit({ now: d.clock(), plan: { id: plan.id, expect: ['awaiting_approval'], patch: { status: 'running' } }, steps }, plan);
    return;
  }
  await d.watch.until(async () => {
    const now = await d.plans.getPlan(plan.id);
    return !now || now.status !== 'awaiting_approval' || now.leaseOwner !== d.owner ? true : undefined;
  }, signal);
}

async function requestApproval(d: DriverDeps, plan: PlanRecord, step: PlanStep): Promise<void> {
  const now = d.clock();
  if (plan.mode === 'none') {
    await d.commit({ now, plan: { id: plan.id, expect: ['running'], patch: {} }, steps: [{ id: step.id, expect: ['planned'], patch: { status: 'approved' } }] }, plan);
    return;
  }
  const steps = plan.mode === 'whole_plan' ? plan.steps.filter((s) => s.status === 'planned') : [step];
  const approval: NewApproval = {
    id: d.ids('apr'),
    conversationId: plan.conversationId,
    kind: plan.mode === 'whole_plan' ? 'plan' : 'plan_step',
    planId: plan.id,
    stepId: plan.mode === 'whole_plan' ? undefined : step.id,
    agent: plan.mode === 'whole_plan' ? (d.agents.planner?.name ?? 'planner') : step.agent,
    summary: plan.mode === 'whole_plan' ? planApprovalSummary(plan, steps) : stepApprovalSummary(plan, step),
    requestedBy: plan.createdBy,
    createdAt: now,
  };
  await d.commit(
    {
      now,
      plan: { id: plan.id, expect: ['running'], patch: { status: 'awaiting_approval' } },
      steps: steps.map((s) => ({ id: s.id, expect: ['planned'], patch: { status: 'awaiting_approval', approvalId: approval.id } })),
      insertApproval: approval,
    },
    plan,
  );
}

async function runStep(d: DriverDeps, plan: PlanRecord, step: PlanStep, signal: AbortSignal): Promise<void> {
  const ended = await runToEnd(d, plan, step.runId!, step.agent, () => stepInput(plan, step), signal);
  const now = d.clock();
  const running = { id: plan.id, expect: ['running' as const] };
  if (ended.status === 'completed') {
    await d.commit({ now, plan: { ...running, patch: {} }, steps: [{ id: step.id, expect: ['in_progress'], patch: { status: 'completed', result: ended.reply ?? '' } }] }, plan);
    return;
  }
  const error = ended.error ?? `the run was ${ended.status}`;
  const failed = { id: step.id, expect: ['in_progress' as const], patch: { status: 'failed' as const, error } };
  if (plan.mode === 'none') {
    await d.commit({ now, plan: { ...running, patch: { status: 'failed', error: `Step ${step.index} (${step.agent}) failed: ${error}` } }, steps: [failed] }, plan);
    return;
  }
  const approval: NewApproval = {
    id: d.ids('apr'),
    conversationId: plan.conversationId,
    kind: 'plan',
    planId: plan.id,
    stepId: step.id,
    agent: step.agent,
    summary: failureApprovalSummary(step, error),
    requestedBy: plan.createdBy,
    createdAt: now,
  };
  await d.commit({ now, plan: { ...running, patch: { status: 'awaiting_approval' } }, steps: [failed], insertApproval: approval }, plan);
}

/** Once every step is done: the proxy writes the summary on its thread, then the plan completes. */
async function finish(d: DriverDeps, plan: PlanRecord, signal: AbortSignal): Promise<void> {
  if (!plan.summaryRunId) {
    await d.commit({ now: d.clock(), plan: { id: plan.id, expect: ['running'], patch: { summaryRunId: d.ids('run') } } }, plan);
    return;
  }
  const ended = await runToEnd(d, plan, plan.summaryRunId, d.agents.proxy.name, () => summaryInput(plan), signal);
  let summary = ended.reply?.trim();
  if (ended.status !== 'completed' || !summary) {
    d.logger.warn('the proxy did not write the plan summary; using the step results', { planId: plan.id, status: ended.status, error: ended.error });
    summary = fallbackSummary(plan);
  }
  await d.commit({ now: d.clock(), plan: { id: plan.id, expect: ['running'], patch: { status: 'completed', summary } } }, plan);
}

/**
 * Runs `input` on the agent's thread as the run `runId` (created now unless a previous process
 * already did: the id was persisted first, so a restart never makes a second run) and waits for it.
 */
async function runToEnd(d: DriverDeps, plan: PlanRecord, runId: string, agent: string, input: () => string, signal: AbortSignal): Promise<Run> {
  if (!(await d.store.getRun(runId))) {
    const thread = await d.store.getOrCreateThread(plan.conversationId, agent, d.ids('thr'));
    await d.engine.enqueue({
      id: runId,
      conversationId: plan.conversationId,
      threadId: thread.id,
      agent,
      input: { content: input(), author: d.agents.planner?.name ?? 'planner' },
      requestedBy: plan.createdBy,
      parentRunId: null,
      parentToolCallId: null,
      depth: 0,
      planId: plan.id,
    });
  }
  // Checked again after the awaits above: a close during them has aborted the signal and closed the engine.
  signal.throwIfAborted();
  return abortable(d.engine.wait(runId), signal);
}

