/**
 * Approvals on the MCP face: asked inline through elicitation when the host supports it (an
 * approve / reject form with feedback, and for plan steps an edited action), otherwise handed back
 * as `pending_approvals` for `decide_approval` / `approve_step` / `reject_step`.
 *
 * Declining the form rejects; dismissing it (cancel) or a host without elicitation leaves the
 * approval pending — nothing is ever approved without a person saying so.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Approval, type Run, type Switchboard, SwitchboardError } from '../index.js';
import type { Extra, InlineApprover } from './ask.js';
import type { McpDeps } from './context.js';
import { approvalOutput } from './plan-schemas.js';
import type { ProgressReporter } from './progress.js';

/** A person may take a while; the host's own timeout is kept at bay by progress notifications. */
const ELICIT_TIMEOUT_MS = 15 * 60_000;

export function canElicit(server: McpServer): boolean {
  return Boolean(server.server.getClientCapabilities()?.elicitation?.form);
}

const DECISION_SCHEMA = {
  decision: { type: 'string', title: 'Decision', enum: ['approve', 'reject'], enumNames: ['Approve', 'Reject'] },
  feedback: { type: 'string', title: 'Feedback', description: 'Optional. Why — on a rejection the agent or planner reads it and adapts.' },
} as const;
const ACTION_SCHEMA = {
  action: { type: 'string', title: 'Edited step', description: 'Optional. Run this instead of the planned action.' },
} as const;

/**
 * Asks the person at the host to decide `approval` and records the decision. `decided` when it
 * was (or had been) decided; `unanswered` when it stays pending (dismissed, failed, not allowed).
 */
export async function elicitDecision(
  server: McpServer,
  sb: Switchboard,
  deps: McpDeps,
  approval: Approval,
  extra: Extra,
  progress?: ProgressReporter,
): Promise<'decided' | 'unanswered'> {
  const editable = approval.kind === 'plan_step';
  progress?.note(`asking you to decide ${approval.id}`);
  let result;
  try {
    result = await server.server.elicitInput(
      {
        mode: 'form',
        message: `Switchboard needs your approval.\n\n${approval.summary}`,
        requestedSchema: { type: 'object', properties: { ...DECISION_SCHEMA, ...(editable ? ACTION_SCHEMA : {}) }, required: ['decision'] },
      },
      // A host that closed stdin will not answer: the server going away ends the question too.
      { relatedRequestId: extra.requestId, signal: deps.shutdown ? AbortSignal.any([extra.signal, deps.shutdown]) : extra.signal, timeout: ELICIT_TIMEOUT_MS },
    );
  } catch (err) {
    deps.logger.warn('elicitation failed; the approval stays pending', { approvalId: approval.id, error: err });
    return 'unanswered';
  }
  if (result.action === 'cancel') return 'unanswered';
  const content = (result.content ?? {}) as Record<string, unknown>;
  const approve = result.action === 'accept' && content.decision === 'approve';
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const feedback = text(content.feedback) ?? (result.action === 'decline' ? 'Declined in the MCP host.' : undefined);
  const action = approve && editable ? text(content.action) : undefined;
  try {
    await sb.decide(approval.id, { approve, feedback, action, by: deps.principal });
    return 'decided';
  } catch (err) {
    if (err instanceof SwitchboardError && err.code === 'not_awaiting_approval') return 'decided';
    deps.logger.warn('decision from elicitation not recorded', { approvalId: approval.id, error: err });
    return 'unanswered';
  }
}

/** Pending approvals this principal may decide, optionally only those matching `keep`. */
export async function decidable(sb: Switchboard, deps: McpDeps, conversationId: string, keep: (a: Approval) => boolean = () => true): Promise<Approval[]> {
  return (await sb.approvals({ conversationId, status: 'pending', principal: deps.principal })).filter(keep);
}

/** The ids of a run and every delegation under it. */
export async function runTree(sb: Switchboard, root: Run): Promise<Set<string>> {
  const ids = new Set([root.id]);
  let frontier = [root.id];
  for (let depth = 0; depth < 12 && frontier.length; depth++) {
    const next: string[] = [];
    for (const id of frontier) for (const child of await sb.listRuns({ parentRunId: id })) if (!ids.has(child.id)) next.push(child.id);
    for (const id of next) ids.add(id);
    frontier = next;
  }
  return ids;
}

/** Approvals that hold up a run (tool calls in it or its delegations) and those raised during an ask (plans it made). */
export async function pendingForRun(sb: Switchboard, deps: McpDeps, run: Run, since?: number): Promise<Approval[]> {
  const tree = await runTree(sb, run);
  return decidable(sb, deps, run.conversationId, (a) => (a.runId !== undefined && tree.has(a.runId)) || (since !== undefined && !a.runId && a.createdAt >= since));
}

/** The ask flow's inline approver: elicits tool approvals of the run tree when the host can answer forms. */
export function inlineApprover(server: McpServer, deps: McpDeps): InlineApprover {
  return async (e, extra) => {
    if (!canElicit(server)) return 'return';
    const sb = await deps.switchboard();
    const approval = await sb.getApproval(e.approvalId);
    if (approval.status !== 'pending') return 'continue';
    if (!(await decidable(sb, deps, approval.conversationId, (a) => a.id === approval.id)).length) return 'return';
    return (await elicitDecision(server, sb, deps, approval, extra)) === 'decided' ? 'continue' : 'return';
  };
}

export async function decideApproval(
  deps: McpDeps,
  args: { approval_id: string; approve: boolean; feedback?: string; action?: string },
): Promise<CallToolResult> {
  const sb = await deps.switchboard();
  const { approval, alreadyDecided } = await sb.decide(args.approval_id, {
    approve: args.approve,
    feedback: args.feedback,
    action: args.action,
    by: deps.principal,
  });
  const out = approvalOutput(approval, alreadyDecided);
  const verb = approval.status === 'approved' ? 'Approved' : approval.status === 'rejected' ? 'Rejected' : `Is ${approval.status}`;
  const next = approval.runId ? ` Poll get_run with run_id "${approval.runId}" for the result.` : approval.planId ? ` Follow the plan with get_plan("${approval.planId}").` : '';
  const lead = `${alreadyDecided ? 'Already decided before: ' : ''}${verb}: ${approval.summary}.${next}`;
  return { content: [{ type: 'text', text: lead }, { type: 'text', text: JSON.stringify(out) }], structuredContent: out };
}
