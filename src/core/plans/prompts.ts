import type { ReplanReason } from '../store/plan-store.js';
import type { Plan, PlanStep } from './types.js';

/** What agents, the planner and people read about a plan. */

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… [truncated]` : s);
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

const done = (plan: Plan) => plan.steps.filter((s) => s.status === 'completed');

/** The message that starts a step's run on its agent's thread. */
export function stepInput(plan: Plan, step: PlanStep): string {
  const earlier = done(plan).filter((s) => s.index < step.index);
  const lines = [`You are carrying out step ${step.index} of a plan. Goal of the plan: ${plan.goal}`];
  if (earlier.length) {
    lines.push('', 'Results of the earlier steps:');
    for (const s of earlier) lines.push(`${s.index}. ${s.agent} — ${oneLine(s.action)}\n   Result: ${clip(s.result ?? '', 2_000)}`);
  }
  lines.push('', `Your step: ${step.action}`, '', 'Do this step only, then reply with its result.');
  return lines.join('\n');
}

/** The message that asks the proxy for the summary, once the last step is done. */
export function summaryInput(plan: Plan): string {
  const lines = [`The plan for this goal is finished: ${plan.goal}`, '', 'Its steps:'];
  for (const s of plan.steps) {
    const outcome = s.status === 'completed' ? `Result: ${clip(s.result ?? '', 4_000)}` : `(${s.status}${s.error ? `: ${s.error}` : ''})`;
    lines.push(`${s.index}. ${s.agent} — ${oneLine(s.action)}\n   ${outcome}`);
  }
  lines.push('', 'Write the summary for the user: what was done and what came of it, keeping file paths, numbers and facts exact. Do not call tools.');
  return lines.join('\n');
}

/** Used when the proxy could not write the summary. */
export function fallbackSummary(plan: Plan): string {
  return plan.steps.map((s) => `${s.index}. ${s.agent}: ${s.status === 'completed' ? oneLine(s.result ?? '') : s.status}`).join('\n');
}

/** What the planner is told when it must revise the plan. */
export function revisionRequest(plan: Plan, reason: ReplanReason): string {
  const lines = ['The plan so far:'];
  for (const s of plan.steps) {
    const extra = s.status === 'completed' ? ` → ${clip(oneLine(s.result ?? ''), 600)}` : s.error ? ` → ${clip(oneLine(s.error), 300)}` : '';
    lines.push(`${s.index}. [${s.status}] ${s.agent}: ${oneLine(s.action)}${extra}`);
  }
  const step = plan.steps.find((s) => s.id === reason.stepId);
  const feedback = reason.feedback?.trim() ? `"${reason.feedback.trim()}"` : '(no reason given)';
  lines.push('');
  if (reason.kind === 'failed') {
    lines.push(`Step ${step?.index ?? '?'} failed: ${reason.error}. ${reason.by} asked for a revision; their feedback: ${feedback}.`);
  } else if (step) {
    lines.push(`${reason.by} rejected step ${step.index} with this feedback: ${feedback}.`);
  } else {
    lines.push(`${reason.by} rejected the plan with this feedback: ${feedback}.`);
  }
  lines.push(
    'Give the steps that remain to reach the goal, taking the feedback into account. Completed steps are done: do not repeat them. ' +
      'An empty list means nothing is left to do.',
  );
  return lines.join('\n');
}

/** What a person approving one step reads. */
export function stepApprovalSummary(plan: Plan, step: PlanStep): string {
  return `Plan "${clip(oneLine(plan.goal), 200)}", step ${step.index} of ${plan.steps.length} — ${step.agent}: ${step.action}`;
}

/** What a person approving a whole plan reads. */
export function planApprovalSummary(plan: Plan, steps: PlanStep[]): string {
  return [`Plan "${clip(oneLine(plan.goal), 200)}" (${steps.length} steps):`, ...steps.map((s) => `${s.index}. ${s.agent}: ${s.action}`)].join('\n');
}

/** What a person reads when a step failed and the plan waits for them. */
export function failureApprovalSummary(step: PlanStep, error: string): string {
  return (
    `Step ${step.index} (${step.agent}) failed: ${clip(oneLine(error), 1_000)}\n` +
    'Approve to have the planner revise the remaining steps (your feedback guides it), or reject to stop the plan.'
  );
}

/** The plan as one block of text (tools, CLI). */
export function describePlan(plan: Plan): string {
  const head = `Plan ${plan.id} (${plan.status}${plan.revision > 1 ? `, revision ${plan.revision}` : ''}): ${plan.goal}`;
  return [head, ...plan.steps.map((s) => `${s.index}. [${s.status}] ${s.agent}: ${s.action}`)].join('\n');
}
