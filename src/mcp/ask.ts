/**
 * `ask_<agent>` / `ask_team`, `get_run` and `cancel_run`: a message to one agent's thread in an MCP
 * conversation, followed with progress until the answer, a time limit (then a handle to poll), an
 * approval a person must decide, or the host cancelling the request (which cancels the run).
 */
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { checkProviders, FINAL_RUN_STATUSES, ForbiddenError, InvalidInputError, NotFoundError, type Run, type Switchboard } from '../index.js';
import { newConversationKey, type McpDeps } from './context.js';
import { ProgressReporter } from './progress.js';
import { pendingForRun } from './approvals.js';
import { pendingOf } from './plan-schemas.js';
import { runOutput, type PendingApproval, type RunOutput } from './schemas.js';
import { RunWatcher, type ApprovalEvent, type WatchOutcome } from './watch.js';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Decides approvals inline (elicitation) when the host can; see approvals.ts. */
export type InlineApprover = (e: ApprovalEvent, extra: Extra) => Promise<'continue' | 'return'>;

export interface AskArgs {
  message: string;
  conversation_id?: string;
}

export function progressFor(deps: McpDeps, extra: Extra): ProgressReporter {
  const token = extra._meta?.progressToken;
  return new ProgressReporter({
    token,
    intervalMs: deps.progressIntervalMs,
    send: (params) => extra.sendNotification({ method: 'notifications/progress', params }),
  });
}

export async function askAgent(deps: McpDeps, agent: string, args: AskArgs, extra: Extra, approver?: InlineApprover): Promise<CallToolResult> {
  const problem = checkProviders(deps.config, deps.env);
  if (problem) throw new InvalidInputError(`Switchboard cannot reach a model: ${problem}`);
  const sb = await deps.switchboard();
  const conversation = args.conversation_id
    ? await sb.getConversation(args.conversation_id, deps.principal).catch((err: unknown) => {
        throw err instanceof NotFoundError ? unknownConversation(args.conversation_id!) : err;
      })
    : await sb.conversation(newConversationKey(deps.principal), deps.principal);

  const since = Date.now();
  const progress = progressFor(deps, extra);
  const watcher = new RunWatcher(sb, conversation.id, progress);
  try {
    const run = await sb.send(conversation.id, { text: args.message, from: deps.principal, agent });
    progress.start(`${agent} received the message (run ${run.id}, conversation ${conversation.id})`);
    watcher.track(run.id);
    const outcome = await watcher.wait({
      timeoutMs: deps.askTimeoutMs,
      signal: extra.signal,
      handBack: deps.shutdown,
      onApproval: approver ? (e) => approver(e, extra) : undefined,
    });
    return await settle(deps, sb, run, outcome, since);
  } finally {
    watcher.close();
  }
}

function unknownConversation(id: string): Error {
  return new InvalidInputError(`No conversation with id "${id}". Use a conversation_id an earlier answer returned, or omit it to start a new conversation.`);
}

async function settle(deps: McpDeps, sb: Switchboard, run: Run, outcome: WatchOutcome, since: number): Promise<CallToolResult> {
  switch (outcome.type) {
    case 'ended': {
      // A run that ended may have left approvals behind: a plan the team lead made, say.
      const pending = outcome.run.status === 'completed' ? await pendingApprovals(deps, sb, outcome.run, since) : [];
      return runResult(runOutput(outcome.run, pending.length ? { pending_approvals: pending } : {}));
    }
    case 'aborted': {
      // The host cancelled the request. (A server going away hands back instead: see WatchOptions.handBack.)
      const cancelled = await sb.cancel(run.id, 'The MCP client cancelled the request.');
      return runResult(runOutput(cancelled));
    }
    case 'approval':
    case 'timeout': {
      const now = await currentRun(sb, run);
      const pending = await pendingApprovals(deps, sb, now, since);
      const seen = outcome.type === 'approval' ? outcome.approvals.map((a) => ({ approval_id: a.approvalId, kind: a.kind, summary: a.summary })) : [];
      const all = pending.length ? pending : seen;
      const status = outcome.type === 'approval' && !FINAL_RUN_STATUSES.includes(now.status) ? 'requires_action' : now.status;
      return runResult(runOutput({ ...now, status }, all.length ? { pending_approvals: all } : {}));
    }
  }
}

/** Approvals this principal may decide that hold up the run, or that were raised during the call. */
async function pendingApprovals(deps: McpDeps, sb: Switchboard, run: Run, since?: number): Promise<PendingApproval[]> {
  if (!deps.plans) return [];
  try {
    return pendingOf(await pendingForRun(sb, deps, run, since));
  } catch (err) {
    deps.logger.debug('pending approvals unavailable', { error: err });
    return [];
  }
}

async function currentRun(sb: Switchboard, run: Run): Promise<Run> {
  return sb.getRun(run.id).catch((err: unknown) => {
    if (err instanceof NotFoundError) return run;
    throw err;
  });
}

/** A run the principal may see, or a tool error naming the problem (someone else's run reads as unknown). */
async function ownRun(deps: McpDeps, sb: Switchboard, runId: string): Promise<Run> {
  return sb.getRun(runId, deps.principal).catch((err: unknown) => {
    if (err instanceof NotFoundError || err instanceof ForbiddenError) throw new InvalidInputError(`No run with id "${runId}". Use a run_id an ask_* tool returned.`);
    throw err;
  });
}

export async function getRun(deps: McpDeps, args: { run_id: string; wait_seconds?: number }, extra: Extra): Promise<CallToolResult> {
  const sb = await deps.switchboard();
  const run = await ownRun(deps, sb, args.run_id);
  if (FINAL_RUN_STATUSES.includes(run.status) || !args.wait_seconds) return runResult(await withPending(deps, sb, run), { failedIsError: false });
  const progress = progressFor(deps, extra);
  const watcher = new RunWatcher(sb, run.conversationId, progress);
  try {
    progress.start(`waiting for ${run.agent} (run ${run.id})`);
    watcher.track(run.id);
    const outcome = await watcher.wait({ timeoutMs: Math.min(args.wait_seconds * 1000, deps.askTimeoutMs), signal: extra.signal, handBack: deps.shutdown });
    const now = outcome.type === 'ended' ? outcome.run : await currentRun(sb, run);
    return runResult(await withPending(deps, sb, now), { failedIsError: false });
  } finally {
    watcher.close();
  }
}

async function withPending(deps: McpDeps, sb: Switchboard, run: Run): Promise<RunOutput> {
  const pending = FINAL_RUN_STATUSES.includes(run.status) ? [] : await pendingApprovals(deps, sb, run);
  return runOutput(run, pending.length ? { pending_approvals: pending } : {});
}

export async function cancelRun(deps: McpDeps, args: { run_id: string }): Promise<CallToolResult> {
  const sb = await deps.switchboard();
  const run = await ownRun(deps, sb, args.run_id);
  const ended = FINAL_RUN_STATUSES.includes(run.status) ? run : await sb.cancel(run.id, 'Cancelled through the MCP cancel_run tool.');
  return runResult(runOutput(ended), { failedIsError: false });
}

/**
 * The tool result: structured content, the reply (or a status line) as text, and the structured
 * fields as JSON text for hosts that read only text. A failed or cancelled `ask_*` is a tool error.
 */
export function runResult(out: RunOutput, opts: { failedIsError?: boolean } = {}): CallToolResult {
  const { reply, ...meta } = out;
  const lead = out.status === 'completed' ? (reply ?? '') : statusLine(out);
  const failed = out.status === 'failed' || out.status === 'cancelled';
  return {
    content: [
      { type: 'text', text: lead },
      { type: 'text', text: JSON.stringify(meta) },
    ],
    structuredContent: out as unknown as Record<string, unknown>,
    ...(failed && opts.failedIsError !== false ? { isError: true } : {}),
  };
}

function statusLine(out: RunOutput): string {
  switch (out.status) {
    case 'failed':
      return `${out.agent} failed: ${out.error ?? 'unknown error'}`;
    case 'cancelled':
      return `${out.agent} was cancelled${out.error ? `: ${out.error}` : ''}.`;
    case 'requires_action': {
      const list = (out.pending_approvals ?? []).map((a) => `- ${a.approval_id} (${a.kind}): ${a.summary}`).join('\n');
      return `${out.agent} is waiting for a person's approval. Decide with decide_approval, then poll get_run with run_id "${out.run_id}".${list ? `\n${list}` : ''}`;
    }
    default:
      return `${out.agent} is still working. Poll get_run with run_id "${out.run_id}" (wait_seconds up to 50) for the answer; conversation_id "${out.conversation_id}".`;
  }
}
