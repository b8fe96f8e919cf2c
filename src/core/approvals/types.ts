import type { Principal } from '../store/types.js';

export type ApprovalKind = 'plan_step' | 'plan' | 'tool_call';
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'cancelled';
export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'cancelled'];

/**
 * A decision a person owes the engine: a plan step (or a whole plan) before it runs, or a tool call
 * that needs approval. It is persisted before anyone is asked, and the decision is persisted before
 * anything acts on it, so it survives a restart of the process that asked.
 */
export interface Approval {
  id: string;
  conversationId: string;
  kind: ApprovalKind;
  planId?: string;
  /** `plan_step`: the step. `plan` after a failed step: the step that failed. */
  stepId?: string;
  /** `tool_call`: the run that wants to call the tool. */
  runId?: string;
  toolCallId?: string;
  /** The agent that asks (for a tool call deep in a delegation: the specialist, not the proxy). */
  agent: string;
  toolName?: string;
  /** What it wants to do, for a person to read. */
  summary: string;
  /** `tool_call`: the validated arguments of the call. */
  arguments?: unknown;
  /** Who started the work that asks (the person whose request led here). */
  requestedBy: Principal | null;
  status: ApprovalStatus;
  decidedBy?: Principal;
  feedback?: string;
  /** `plan_step` approved with an edited action: the action that ran instead. */
  action?: string;
  createdAt: number;
  decidedAt?: number;
}

export type NewApproval = Omit<Approval, 'status' | 'decidedBy' | 'feedback' | 'action' | 'decidedAt'>;

export interface Decision {
  approve: boolean;
  feedback?: string;
  /** For a plan step: run this action instead of the planned one. */
  action?: string;
  by: Principal;
}

export interface DecideResult {
  approval: Approval;
  /** The approval had been decided before this call: the first decision stands and is returned. */
  alreadyDecided: boolean;
}
