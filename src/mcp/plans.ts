/**
 * Plan tools — `plan_task`, `get_plan`, `approve_step`, `reject_step`, `cancel_plan` — and
 * `decide_approval`, plus the `switchboard://plans/{id}` resource. Start-then-poll by design: a
 * call returns once the plan needs a person or ends (or the ask time limit passes); a host that can
 * answer forms is asked for each pending step inline instead.
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FINAL_PLAN_STATUSES, InvalidInputError, NotFoundError, type Plan, type Switchboard } from '../index.js';
import { canElicit, decidable, decideApproval, elicitDecision } from './approvals.js';
import { progressFor, type Extra } from './ask.js';
import type { PlanToolName } from './catalog.js';
import { newConversationKey, type McpDeps } from './context.js';
import { planOutput, planText } from './plan-schemas.js';
import type { ProgressReporter } from './progress.js';
import { orNotFound } from './resources.js';
import type { ToolHandler } from './tools.js';

async function planResult(sb: Switchboard, deps: McpDeps, plan: Plan, lead?: string): Promise<CallToolResult> {
  const out = planOutput(plan, await decidable(sb, deps, plan.conversationId, (a) => a.planId === plan.id));
  const text = lead ? `${lead}\n\n${planText(out)}` : planText(out);
  return { content: [{ type: 'text', text }, { type: 'text', text: JSON.stringify(out) }], structuredContent: out };
}

/** Forwards the plan's events (and those of its step runs and their delegations) as progress. */
function followPlan(sb: Switchboard, plan: Plan, progress: ProgressReporter): () => void {
  const runs = new Set<string>();
  return sb.on(plan.conversationId, (e) => {
    const mine = 'planId' in e && e.planId === plan.id;
    if (e.type === 'plan.updated' && mine && e.runId) runs.add(e.runId);
    if (e.type === 'delegation.started' && runs.has(e.runId)) runs.add(e.childRunId);
    if (mine || runs.has(e.runId)) progress.event(e);
  });
}

/**
 * Waits for the plan to need a person or end, asking inline for each pending approval when the host
 * can answer forms, until `limitMs` passes; resolves with the plan as it then is.
 */
async function settle(server: McpServer, sb: Switchboard, deps: McpDeps, plan: Plan, extra: Extra, limitMs: number, progress: ProgressReporter): Promise<Plan> {
  const deadline = Date.now() + limitMs;
  const off = followPlan(sb, plan, progress);
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        plan = await sb.waitForPlan(plan.id, { until: 'settled', signal: AbortSignal.any([extra.signal, AbortSignal.timeout(left), ...stopping(deps)]) });
      } catch (err) {
        if (extra.signal.aborted || deps.shutdown?.aborted || (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') break;
        throw err;
      }
      if (plan.status !== 'awaiting_approval' || !canElicit(server)) break;
      const [next] = await decidable(sb, deps, plan.conversationId, (a) => a.planId === plan.id);
      if (!next || (await elicitDecision(server, sb, deps, next, extra, progress)) !== 'decided') break;
    }
  } finally {
    off();
    progress.stop();
  }
  return sb.getPlan(plan.id, deps.principal);
}

/** The plan a step belongs to, among the plans this principal may see. */
async function planOfStep(sb: Switchboard, deps: McpDeps, stepId: string): Promise<Plan> {
  for (const plan of await sb.listPlans({ principal: deps.principal })) if (plan.steps.some((s) => s.id === stepId)) return plan;
  throw new InvalidInputError(`No plan step with id "${stepId}". Use a step_id from plan_task or get_plan.`);
}

async function decideStep(deps: McpDeps, stepId: string, approve: boolean, more: { action?: string; feedback?: string }): Promise<CallToolResult> {
  const sb = await deps.switchboard();
  const approval = await sb.approvalForStep(stepId).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw new InvalidInputError(`No plan step with id "${stepId}". Use a step_id from plan_task or get_plan.`);
    throw err;
  });
  if (!approval) {
    const plan = await planOfStep(sb, deps, stepId);
    const step = plan.steps.find((s) => s.id === stepId)!;
    throw new InvalidInputError(`Step ${step.index} of plan ${plan.id} is ${step.status.replace('_', ' ')}: nothing to ${approve ? 'approve' : 'reject'} now.`);
  }
  const { approval: decided, alreadyDecided } = await sb.decide(approval.id, { approve, ...more, by: deps.principal });
  const plan = await sb.getPlan(decided.planId!, deps.principal);
  const lead = alreadyDecided ? `Step was already ${decided.status} before.` : approve ? 'Approved; the step runs now. Follow it with get_plan.' : 'Rejected; the planner revises the remaining steps.';
  return planResult(sb, deps, plan, lead);
}

/** The server's going away, as a list to spread into `AbortSignal.any`. */
function stopping(deps: McpDeps): AbortSignal[] {
  return deps.shutdown ? [deps.shutdown] : [];
}

export function planHandlers(server: McpServer, deps: McpDeps): Record<PlanToolName, ToolHandler> {
  return {
    async plan_task(args, extra) {
      const { goal, conversation_id } = args as { goal: string; conversation_id?: string };
      const sb = await deps.switchboard();
      const conversation = conversation_id
        ? await sb.getConversation(conversation_id, deps.principal).catch((err: unknown) => {
            throw err instanceof NotFoundError ? new InvalidInputError(`No conversation with id "${conversation_id}". Omit conversation_id to start a new one.`) : err;
          })
        : await sb.conversation(newConversationKey(deps.principal), deps.principal);
      const progress = progressFor(deps, extra);
      // The heartbeat keeps the host waiting while the planner thinks.
      progress.start('the planner is planning');
      let plan = await sb.plan(conversation.id, goal, deps.principal);
      if (!extra.signal.aborted && !deps.shutdown?.aborted) plan = await settle(server, sb, deps, plan, extra, deps.askTimeoutMs, progress);
      // The host cancelled the request that made the plan: the plan goes with it (a get_plan poll cancels nothing).
      // The server going away (which aborts requests too) is no cancellation: the plan is stored and carries on.
      if (extra.signal.aborted && !deps.shutdown?.aborted && !FINAL_PLAN_STATUSES.includes(plan.status)) plan = await sb.cancelPlan(plan.id, deps.principal);
      progress.stop();
      return planResult(sb, deps, plan);
    },
    async get_plan(args, extra) {
      const { plan_id, wait_seconds } = args as { plan_id: string; wait_seconds?: number };
      const sb = await deps.switchboard();
      let plan = await sb.getPlan(plan_id, deps.principal).catch((err: unknown) => {
        throw err instanceof NotFoundError ? new InvalidInputError(`No plan with id "${plan_id}". Use a plan_id plan_task returned.`) : err;
      });
      if (wait_seconds) plan = await settle(server, sb, deps, plan, extra, Math.min(wait_seconds * 1000, deps.askTimeoutMs), progressFor(deps, extra));
      return planResult(sb, deps, plan);
    },
    approve_step: (args) => {
      const { step_id, action } = args as { step_id: string; action?: string };
      return decideStep(deps, step_id, true, { action });
    },
    reject_step: (args) => {
      const { step_id, feedback } = args as { step_id: string; feedback: string };
      return decideStep(deps, step_id, false, { feedback });
    },
    async cancel_plan(args) {
      const { plan_id } = args as { plan_id: string };
      const sb = await deps.switchboard();
      const plan = await sb.cancelPlan(plan_id, deps.principal).catch((err: unknown) => {
        throw err instanceof NotFoundError ? new InvalidInputError(`No plan with id "${plan_id}". Use a plan_id plan_task returned.`) : err;
      });
      return planResult(sb, deps, plan, `Plan ${plan.status === 'cancelled' ? 'cancelled' : `was already ${plan.status}`}.`);
    },
    decide_approval: (args) => decideApproval(deps, args as { approval_id: string; approve: boolean; feedback?: string; action?: string }),
  };
}

export function registerPlanResources(server: McpServer, deps: McpDeps): void {
  server.registerResource(
    'plan',
    new ResourceTemplate('switchboard://plans/{id}', {
      list: async () => {
        const sb = await deps.switchboard();
        const plans = await sb.listPlans({ principal: deps.principal });
        return { resources: plans.slice(-50).map((p) => ({ uri: `switchboard://plans/${p.id}`, name: `Plan: ${p.goal.slice(0, 80)}`, mimeType: 'application/json' })) };
      },
    }),
    { title: 'Plan', description: 'A plan with its steps, results and pending approvals, as JSON.', mimeType: 'application/json' },
    async (uri, variables) => {
      const id = decodeURIComponent(String(variables.id ?? ''));
      const sb = await deps.switchboard();
      const plan = await orNotFound('plan', id, () => sb.getPlan(id, deps.principal));
      const out = planOutput(plan, await decidable(sb, deps, plan.conversationId, (a) => a.planId === plan.id));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(out, null, 2) }] };
    },
  );
}
