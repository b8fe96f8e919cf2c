/**
 * The catalog entries of the plan and approval tools (SDK-free, like catalog.ts, so the stdio fast
 * path can list them).
 */
import type { CatalogEntry, PlanToolName } from './catalog.js';
import {
  ApprovalOutputSchema,
  ApproveStepInput,
  CancelPlanInput,
  DecideApprovalInput,
  GetPlanInput,
  PlanOutputSchema,
  planTaskInput,
  RejectStepInput,
} from './plan-schemas.js';

const entry = (
  name: PlanToolName,
  title: string,
  description: string,
  input: CatalogEntry['input'],
  annotations: CatalogEntry['annotations'],
  output: CatalogEntry['output'] = PlanOutputSchema,
): CatalogEntry => ({
  name,
  title,
  description,
  input,
  output,
  annotations: { title, ...annotations },
  kind: { type: 'plan', name },
});

export function planCatalog(maxMessageChars: number): CatalogEntry[] {
  return [
    entry(
      'plan_task',
      'Plan a task',
      'Breaks a goal into steps, each carried out by one agent, that a person approves before they run. Returns the plan with its steps (step_id) and pending_approvals; ' +
        'decide them with approve_step / reject_step (the planner revises on feedback), follow with get_plan.',
      planTaskInput(maxMessageChars),
      { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    ),
    entry('get_plan', 'Get a plan', 'A plan\'s steps, their results, and what waits for a decision. wait_seconds waits for it to need a person or end.', GetPlanInput, {
      readOnlyHint: true,
      openWorldHint: false,
    }),
    entry('approve_step', 'Approve a plan step', 'Approves a step waiting for approval (optionally with an edited action); the step then runs.', ApproveStepInput, {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: true,
    }),
    entry('reject_step', 'Reject a plan step', 'Rejects a step with feedback; the planner revises the remaining steps from it.', RejectStepInput, {
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: true,
    }),
    entry('cancel_plan', 'Cancel a plan', 'Stops a plan: pending approvals are cancelled and a running step is stopped.', CancelPlanInput, {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: false,
    }),
    entry(
      'decide_approval',
      'Decide an approval',
      'Approves or rejects anything waiting for a person: a tool call an agent wants to make (e.g. running code), a plan step, or a whole plan. ' +
        'approval_id comes from pending_approvals in an ask_*, get_run or plan result.',
      DecideApprovalInput,
      { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
      ApprovalOutputSchema,
    ),
  ];
}

