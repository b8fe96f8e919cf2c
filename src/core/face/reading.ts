/**
 * Reading what the engine keeps, as an adapter needs it: a run, the runs of a conversation or under a
 * run, and an approval with everything a card shows (who asked, which agent, the tool call or the
 * plan step, whether it can be edited, who may decide it) — each checked against the principal.
 */
import type { ApprovalService } from '../approvals/service.js';
import type { Approval, ApprovalKind, ApprovalStatus } from '../approvals/types.js';
import type { PolicyVerdict } from '../approvals/policy.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { PlanStore } from '../store/plan-store.js';
import { principalId, type Conversation, type Principal, type Run, type RunStatus, type Store } from '../store/types.js';

export interface RunFilter {
  conversationId?: string;
  /** The delegations a run made. */
  parentRunId?: string;
  statuses?: RunStatus[];
  limit?: number;
}

/** An approval with what it takes to draw it as a card (Slack, Teams, a terminal, an MCP form), in one call. */
export interface ApprovalView {
  approval: Approval;
  kind: ApprovalKind;
  status: ApprovalStatus;
  /** The agent that asks (for a tool call deep in a delegation: the specialist). */
  agent: string;
  /** Who started the work that asks. */
  requestedBy: Principal | null;
  /** `tool_call`: the tool and its validated arguments. */
  tool?: { name: string; arguments: unknown };
  /** `plan_step` (and `plan` after a failed step): the step, with the action it runs. */
  step?: { id: string; index: number; agent: string; action: string };
  plan?: { id: string; goal: string };
  /** The action may be replaced on approval (`decide(..., { action })`): pending plan steps. */
  canEdit: boolean;
  decidedBy?: Principal;
  decidedAt?: number;
  feedback?: string;
  /** Present when a principal was given: whether that principal may decide it now, and if not, why. */
  mayDecide?: PolicyVerdict;
}

export interface ReadingDeps {
  store: Store;
  /** NotFoundError, or ForbiddenError when `principal` may not see the conversation. */
  getConversation(id: string, principal?: Principal): Promise<Conversation>;
  /** Null without a plan store: approvals are then unavailable (the call throws `plans_unavailable`). */
  plans: PlanStore | null;
  approvals: () => ApprovalService;
}

export interface Reading {
  getRun(runId: string, principal?: Principal): Promise<Run>;
  listRuns(filter: RunFilter, principal?: Principal): Promise<Run[]>;
  approvalView(approvalId: string, principal?: Principal): Promise<ApprovalView>;
}

export function createReading(deps: ReadingDeps): Reading {
  const { store } = deps;

  /** Whether `principal` may see the conversation; other failures (a store that is down) pass. */
  const maySee = async (conversationId: string, principal: Principal): Promise<boolean> => {
    try {
      await deps.getConversation(conversationId, principal);
      return true;
    } catch (err) {
      if (err instanceof ForbiddenError || err instanceof NotFoundError) return false;
      throw err;
    }
  };

  return {
    async getRun(runId, principal) {
      const run = await store.getRun(runId);
      if (!run) throw new NotFoundError('run', runId);
      if (principal && !(await maySee(run.conversationId, principal))) {
        throw new ForbiddenError(`Run "${runId}" is in a conversation of someone else; ${principalId(principal)} may not see it.`);
      }
      return run;
    },

    async listRuns(filter, principal) {
      if (principal && filter.conversationId) {
        // One check up front names the problem instead of answering an empty list.
        await deps.getConversation(filter.conversationId, principal);
        return store.listRuns(filter);
      }
      const runs = await store.listRuns(filter);
      if (!principal) return runs;
      const seen = new Map<string, boolean>();
      const out: Run[] = [];
      for (const run of runs) {
        let ok = seen.get(run.conversationId);
        if (ok === undefined) seen.set(run.conversationId, (ok = await maySee(run.conversationId, principal)));
        if (ok) out.push(run);
      }
      return out;
    },

    async approvalView(approvalId, principal) {
      const approvals = deps.approvals();
      const approval = await approvals.get(approvalId);
      const verdict = principal ? await approvals.check(approval, principal) : undefined;
      // Someone the policy names as an approver may see what they are asked to decide, even from outside the conversation.
      if (principal && !verdict!.ok && !(await maySee(approval.conversationId, principal))) {
        throw new ForbiddenError(`Approval "${approvalId}" is in a conversation of someone else; ${principalId(principal)} may not see it.`);
      }
      const view: ApprovalView = {
        approval,
        kind: approval.kind,
        status: approval.status,
        agent: approval.agent,
        requestedBy: approval.requestedBy,
        canEdit: approval.kind === 'plan_step' && approval.status === 'pending',
        ...(approval.decidedBy ? { decidedBy: approval.decidedBy } : {}),
        ...(approval.decidedAt !== undefined ? { decidedAt: approval.decidedAt } : {}),
        ...(approval.feedback ? { feedback: approval.feedback } : {}),
      };
      if (approval.kind === 'tool_call') view.tool = { name: approval.toolName ?? '', arguments: approval.arguments };
      if (approval.planId && deps.plans) {
        const plan = await deps.plans.getPlan(approval.planId);
        if (plan) view.plan = { id: plan.id, goal: plan.goal };
      }
      if (approval.stepId && deps.plans) {
        const step = await deps.plans.getStep(approval.stepId);
        if (step) view.step = { id: step.id, index: step.index, agent: step.agent, action: step.action };
      }
      if (verdict) view.mayDecide = approval.status === 'pending' ? verdict : { ok: false, reason: decidedAlready(approval) };
      return view;
    },
  };
}

function decidedAlready(a: Approval): string {
  const by = a.decidedBy ? ` by ${principalId(a.decidedBy)}` : '';
  return `Approval ${a.id} is no longer pending: it was ${a.status}${by}.`;
}
