import type { ApprovalStatus, NewApproval } from '../approvals/types.js';
import type { ApprovalPatch } from './approval-store.js';
import type { Plan, PlanApprovalMode, PlanStatus, PlanStep, PlanUsage, StepStatus } from '../plans/types.js';
import type { Principal } from './types.js';

/**
 * Persistence of plans and their steps, beside the core Store and in the same database (SQLite file
 * or PostgreSQL). Approvals are an ApprovalStore of their own (tool calls need no plans); a plan
 * transition may still decide or insert a plan's approval, atomically with the plan's change. Every change that belongs together goes through one `transition`,
 * which checks what it expects to find (compare-and-set) and applies everything or nothing: a crash
 * never leaves a step approved without its approval decided, nor a decision without its effect.
 */

/** Why the planner is asked to revise the plan; kept until the revision is saved. */
export type ReplanReason =
  | { kind: 'rejected'; stepId?: string; feedback: string; by: string }
  | { kind: 'failed'; stepId: string; error: string; feedback?: string; by: string };

/** A plan as stored: the public Plan plus what the engine needs to carry it on after a restart. */
export interface PlanRecord extends Plan {
  replan: ReplanReason | null;
  summaryRunId: string | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
  originRunId: string | null;
  originToolCallId: string | null;
}

export interface NewPlan {
  id: string;
  conversationId: string;
  goal: string;
  mode: PlanApprovalMode;
  createdBy: Principal;
  /** The run and tool call (`create_plan`) that made it: creating it again returns the same plan. */
  originRunId?: string;
  originToolCallId?: string;
  leaseOwner: string;
  leaseUntil: number;
  now: number;
}

export interface NewPlanStep {
  id: string;
  planId: string;
  agent: string;
  action: string;
  revision: number;
}

export type PlanPatch = Partial<{
  status: PlanStatus;
  error: string | null;
  summary: string | null;
  summaryRunId: string | null;
  revision: number;
  replan: ReplanReason | null;
  usage: PlanUsage;
}>;

export type StepPatch = Partial<{
  status: StepStatus;
  action: string;
  result: string | null;
  error: string | null;
  approvalId: string | null;
  runId: string | null;
}>;

/** One atomic change. Any expectation that does not hold aborts the whole of it. */
export interface PlanTransition {
  now: number;
  approval?: { id: string; expect: ApprovalStatus[]; patch: ApprovalPatch };
  plan?: { id: string; expect?: PlanStatus[]; expectRevision?: number; patch: PlanPatch };
  steps?: { id: string; expect?: StepStatus[]; patch: StepPatch }[];
  /** Steps a revision replaces: no longer listed in the plan (kept in the database). */
  supersede?: string[];
  /** Cancels the plan's approvals that are still pending (before `insertApproval` is added). */
  cancelPendingApprovalsOf?: string;
  /** Appended after the plan's last listed step, numbered on from it. */
  insertSteps?: NewPlanStep[];
  insertApproval?: NewApproval;
}

export interface PlanFilter {
  conversationId?: string;
  statuses?: PlanStatus[];
  limit?: number;
}

export interface PlanStore {
  /** Creates the tables when missing; safe to call more than once. */
  init(): Promise<void>;

  /** Creates a plan in `planning`, leased to its creator; with an origin, an existing plan from it is returned instead. */
  createPlan(plan: NewPlan): Promise<{ plan: PlanRecord; created: boolean }>;
  getPlan(id: string): Promise<PlanRecord | null>;
  /** Oldest first. */
  listPlans(filter: PlanFilter): Promise<PlanRecord[]>;
  getStep(id: string): Promise<PlanStep | null>;

  /** Applies the transition atomically; false (and nothing written) when an expectation failed. */
  transition(t: PlanTransition): Promise<boolean>;

  /**
   * Takes the lease of an unfinished plan when it is free, expired as of `now`, or already `owner`'s.
   * (To take over from a dead owner early, pass `now` just past its `leaseUntil`: compare-and-set.)
   */
  claimPlan(planId: string, owner: string, leaseUntil: number, now: number): Promise<boolean>;
  renewPlanLeases(owner: string, leaseUntil: number): Promise<void>;
  /** Gives up `owner`'s leases (a polite shutdown): another process may take the plans at once. */
  releasePlanLeases(owner: string): Promise<void>;
}
