import type { Principal } from '../store/types.js';

export type PlanStatus = 'planning' | 'awaiting_approval' | 'running' | 'completed' | 'failed' | 'cancelled';
export type StepStatus = 'planned' | 'awaiting_approval' | 'approved' | 'rejected' | 'in_progress' | 'completed' | 'failed' | 'skipped';
/** How plan steps are approved: each one before it runs, the whole plan once, or not at all. */
export type PlanApprovalMode = 'each_step' | 'whole_plan' | 'none';

export const FINAL_PLAN_STATUSES: readonly PlanStatus[] = ['completed', 'failed', 'cancelled'];
/** Steps that will not run (again) in this revision of the plan. */
export const DONE_STEP_STATUSES: readonly StepStatus[] = ['completed', 'failed', 'skipped', 'rejected'];

export interface PlanStep {
  id: string;
  planId: string;
  /** 1-based position in the plan; steps added by a revision continue the numbering. */
  index: number;
  agent: string;
  /** What the agent is asked to do (the edited action, when a person changed it on approval). */
  action: string;
  status: StepStatus;
  /** The agent's reply, once the step completed. */
  result?: string;
  error?: string;
  /** The approval that decides (or decided) this step. */
  approvalId?: string;
  /** The run that carries the step out on the agent's thread. */
  runId?: string;
  /** The plan revision that added the step. */
  revision: number;
}

export interface PlanUsage {
  promptTokens: number;
  completionTokens: number;
  /** Planner model calls (step and summary runs are counted on their runs). */
  modelCalls: number;
}

export interface Plan {
  id: string;
  conversationId: string;
  goal: string;
  status: PlanStatus;
  /** The current steps in order: done ones, then what is left. Steps a revision replaced are not listed. */
  steps: PlanStep[];
  /** The proxy's summary for the user, when the plan completed. */
  summary?: string;
  error?: string;
  createdBy: Principal;
  /** 1 once the planner made the first plan; +1 per revision. 0 while the first plan is being made. */
  revision: number;
  mode: PlanApprovalMode;
  usage: PlanUsage;
  createdAt: number;
  updatedAt: number;
}
