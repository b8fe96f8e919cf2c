/**
 * A plan as chat cards show it, surface-neutral: the goal, numbered steps with agent, action, status
 * and who decided each, and the step waiting for a decision. Slack turns this into Block Kit, Teams
 * into an Adaptive Card; neither re-derives what a status means.
 */
import type { Plan, PlanStatus, StepStatus } from '../../index.js';

export interface StepDecision {
  /** A display name or principal id. */
  by: string;
  approved: boolean;
  feedback?: string;
}

export interface PlanStepView {
  index: number;
  agent: string;
  action: string;
  status: StepStatus;
  /** Icon and words for the status, e.g. "⏳ waiting for approval". */
  label: string;
  /** This step waits for a person: the card shows the buttons here. */
  awaiting: boolean;
  approvalId?: string;
  decision?: StepDecision;
  /** One line of the step's result or error, when it ended. */
  outcome?: string;
}

export interface PlanView {
  id: string;
  goal: string;
  status: PlanStatus;
  statusLabel: string;
  revision: number;
  steps: PlanStepView[];
  /** The step with buttons, if any. */
  awaiting: PlanStepView | null;
  summary?: string;
  error?: string;
  done: boolean;
}

const STEP_LABELS: Record<StepStatus, string> = {
  planned: '◻️ planned',
  awaiting_approval: '⏳ waiting for approval',
  approved: '👍 approved',
  rejected: '✋ rejected',
  in_progress: '⚙️ running',
  completed: '✅ done',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
};

const PLAN_LABELS: Record<PlanStatus, string> = {
  planning: '🧭 planning…',
  awaiting_approval: '⏳ waiting for approval',
  running: '⚙️ running',
  completed: '✅ completed',
  failed: '❌ failed',
  cancelled: '🚫 cancelled',
};

export function stepLabel(status: StepStatus): string {
  return STEP_LABELS[status];
}

/**
 * `decisions` maps approval ids to who decided them (the caller looks them up once per card render;
 * a plan has a handful of steps).
 */
export function planView(plan: Plan, decisions: ReadonlyMap<string, StepDecision> = new Map(), outcomeChars = 200): PlanView {
  const done = plan.status === 'completed' || plan.status === 'failed' || plan.status === 'cancelled';
  const steps = plan.steps.map((s): PlanStepView => {
    const decision = s.approvalId ? decisions.get(s.approvalId) : undefined;
    const ended = s.status === 'completed' ? s.result : s.status === 'failed' ? s.error : undefined;
    return {
      index: s.index,
      agent: s.agent,
      action: s.action,
      status: s.status,
      label: STEP_LABELS[s.status],
      awaiting: !done && s.status === 'awaiting_approval' && !!s.approvalId,
      ...(s.approvalId ? { approvalId: s.approvalId } : {}),
      ...(decision ? { decision } : {}),
      ...(ended ? { outcome: oneLine(ended, outcomeChars) } : {}),
    };
  });
  return {
    id: plan.id,
    goal: plan.goal,
    status: plan.status,
    statusLabel: PLAN_LABELS[plan.status],
    revision: plan.revision,
    steps,
    awaiting: steps.find((s) => s.awaiting) ?? null,
    ...(plan.summary ? { summary: plan.summary } : {}),
    ...(plan.error ? { error: plan.error } : {}),
    done,
  };
}

/** "approved by Ada", "rejected by Ada: too broad". `escape` applies to the feedback (a person's words), not the name. */
export function decisionLine(d: StepDecision, escape: (text: string) => string = (t) => t): string {
  return `${d.approved ? 'approved' : 'rejected'} by ${d.by}${d.feedback ? `: ${escape(oneLine(d.feedback, 200))}` : ''}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : flat.slice(0, max - 1).trimEnd() + '…';
}
