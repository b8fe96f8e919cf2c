import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool, type ToolDefinition } from '../runs/tool.js';
import type { Store } from '../store/types.js';
import { describePlan } from './prompts.js';
import type { PlanService } from './service.js';

const CreatePlanArgs = z.object({
  goal: z.string().min(1).describe('The goal, self-contained: the planner sees only this, not the conversation.'),
});

/**
 * `create_plan(goal)`, for the proxy: when a request needs several agents one after another, or has
 * side effects (files written, code run, images made), a planner breaks it into steps that people
 * approve before they run. Keyed by (run, tool call), so a resumed run finds the plan it made.
 */
export function createPlanTool(deps: { plans: () => PlanService; store: Store }): ToolDefinition<typeof CreatePlanArgs> {
  return defineTool({
    name: 'create_plan',
    description:
      'Make a plan for a goal that needs several agents in turn or has side effects (writing files, running code, making images). ' +
      'A planner breaks the goal into steps, each carried out by one agent; the user approves (or rejects, or edits) each step before it runs, ' +
      'and you are asked to summarise the results when the plan is done. Returns the plan and what it waits for.',
    parameters: CreatePlanArgs,
    idempotent: true,
    annotations: { readOnly: false, openWorld: true },
    async execute({ goal }, ctx) {
      const run = await deps.store.getRun(ctx.runId);
      const conversation = await deps.store.getConversation(ctx.conversationId);
      const principal = run?.requestedBy ?? conversation?.owner;
      if (!principal) throw new ToolError('Nobody to approve a plan is known in this conversation.');
      const plan = await deps.plans().create(ctx.conversationId, goal, principal, { runId: ctx.runId, toolCallId: ctx.toolCallId });
      if (plan.status === 'failed') throw new ToolError(`No plan could be made: ${plan.error ?? 'the planner failed'}.`);
      const next =
        plan.status === 'awaiting_approval'
          ? 'It is waiting for the user to approve it; steps run as they are approved.'
          : 'It is running without approvals.';
      return `${describePlan(plan)}\n\n${next} Tell the user the plan in a few words; do not carry out its steps yourself. When it is done you will be asked to summarise it.`;
    },
  });
}
