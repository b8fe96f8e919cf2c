/**
 * Inputs and outputs of the plan and approval tools, and how the core's Plan / Approval map onto
 * them (snake_case, ids named for what they are).
 */
import { z } from 'zod';
import { preview, principalId, type Approval, type Plan } from '../index.js';
import { conversationIdField } from './schemas.js';

export const PendingApprovalOut = z.object({
  approval_id: z.string(),
  kind: z.string(),
  summary: z.string(),
  step_id: z.string().optional(),
});
export type PendingApprovalOut = z.infer<typeof PendingApprovalOut>;

export const PlanStepOut = z.object({
  step_id: z.string(),
  index: z.number().int(),
  agent: z.string(),
  action: z.string(),
  status: z.string(),
  result: z.string().optional(),
  error: z.string().optional(),
  approval_id: z.string().optional(),
  run_id: z.string().optional(),
});

export const PlanOutputSchema = z.object({
  plan_id: z.string(),
  conversation_id: z.string(),
  goal: z.string(),
  status: z.enum(['planning', 'awaiting_approval', 'running', 'completed', 'failed', 'cancelled']),
  revision: z.number().int(),
  steps: z.array(PlanStepOut),
  summary: z.string().optional(),
  error: z.string().optional(),
  pending_approvals: z.array(PendingApprovalOut),
});
export type PlanOutput = z.infer<typeof PlanOutputSchema>;

export const ApprovalOutputSchema = z.object({
  approval_id: z.string(),
  kind: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'cancelled']),
  summary: z.string(),
  already_decided: z.boolean(),
  decided_by: z.string().optional(),
  feedback: z.string().optional(),
  plan_id: z.string().optional(),
  step_id: z.string().optional(),
  run_id: z.string().optional(),
});

const planId = z.string().min(1).describe('The plan_id plan_task returned.');
const stepId = z.string().min(1).describe('A step_id from the plan (plan_task / get_plan).');

export function planTaskInput(maxChars: number) {
  return z.object({
    goal: z
      .string({ error: 'goal must be a string: what the plan should achieve' })
      .min(1, 'goal must not be empty')
      .max(maxChars, `goal is longer than the limit of ${maxChars} characters`)
      .describe('What the plan should achieve, self-contained.'),
    conversation_id: conversationIdField.optional(),
  });
}

export const GetPlanInput = z.object({
  plan_id: planId,
  wait_seconds: z.number().min(0).max(50).optional().describe('Wait up to this many seconds for the plan to need a person or end (default 0).'),
});
export const ApproveStepInput = z.object({
  step_id: stepId,
  action: z.string().min(1).max(4000).optional().describe('Run this instead of the planned action (an edited step).'),
});
export const RejectStepInput = z.object({
  step_id: stepId,
  feedback: z
    .string({ error: 'feedback must be a string: why, and what to do instead' })
    .min(1, 'feedback must not be empty: the planner revises the plan from it')
    .max(4000)
    .describe('Why the step is rejected and what to do instead; the planner revises the plan from it.'),
});
export const CancelPlanInput = z.object({ plan_id: planId });
export const DecideApprovalInput = z.object({
  approval_id: z.string().min(1).describe('An approval_id from pending_approvals.'),
  approve: z.boolean({ error: 'approve must be true or false' }).describe('true to approve, false to reject.'),
  feedback: z.string().max(4000).optional().describe('Why; on a rejection the agent or planner reads it.'),
  action: z.string().min(1).max(4000).optional().describe('Plan steps only: run this instead of the planned action.'),
});

export function pendingOf(approvals: readonly Approval[]): PendingApprovalOut[] {
  return approvals
    .filter((a) => a.status === 'pending')
    .map((a) => ({ approval_id: a.id, kind: a.kind, summary: a.summary, ...(a.stepId ? { step_id: a.stepId } : {}) }));
}

export function planOutput(plan: Plan, pending: readonly Approval[]): PlanOutput {
  return {
    plan_id: plan.id,
    conversation_id: plan.conversationId,
    goal: plan.goal,
    status: plan.status,
    revision: plan.revision,
    steps: plan.steps.map((s) => ({
      step_id: s.id,
      index: s.index,
      agent: s.agent,
      action: s.action,
      status: s.status,
      ...(s.result !== undefined ? { result: s.result } : {}),
      ...(s.error ? { error: s.error } : {}),
      ...(s.approvalId ? { approval_id: s.approvalId } : {}),
      ...(s.runId ? { run_id: s.runId } : {}),
    })),
    ...(plan.summary ? { summary: plan.summary } : {}),
    ...(plan.error ? { error: plan.error } : {}),
    pending_approvals: pendingOf(pending.filter((a) => a.planId === plan.id)),
  };
}

export function approvalOutput(a: Approval, alreadyDecided: boolean): z.infer<typeof ApprovalOutputSchema> {
  return {
    approval_id: a.id,
    kind: a.kind,
    status: a.status,
    summary: a.summary,
    already_decided: alreadyDecided,
    ...(a.decidedBy ? { decided_by: principalId(a.decidedBy) } : {}),
    ...(a.feedback ? { feedback: a.feedback } : {}),
    ...(a.planId ? { plan_id: a.planId } : {}),
    ...(a.stepId ? { step_id: a.stepId } : {}),
    ...(a.runId ? { run_id: a.runId } : {}),
  };
}

/** A plan as a person reads it, for hosts that show only text. */
export function planText(p: PlanOutput): string {
  const lines = [`Plan ${p.plan_id} (${p.status.replace('_', ' ')}): ${p.goal}`];
  for (const s of p.steps) {
    const tail = s.result ? ` → ${preview(s.result, 300)}` : s.error ? ` → ${preview(s.error, 200)}` : '';
    lines.push(`${s.index}. [${s.status}] ${s.agent}: ${s.action} (step_id ${s.step_id})${tail}`);
  }
  if (p.pending_approvals.length) {
    lines.push('', 'Waiting for a decision (approve_step / reject_step, or decide_approval):');
    for (const a of p.pending_approvals) lines.push(`- ${a.approval_id}${a.step_id ? ` (step_id ${a.step_id})` : ''}: ${preview(a.summary, 300)}`);
  }
  if (p.summary) lines.push('', p.summary);
  if (p.error) lines.push('', `Error: ${p.error}`);
  return lines.join('\n');
}
