/**
 * Clicks on cards and modal submissions. Every decision goes through the face's `decide`, which checks
 * `approvals.policy` and the approval's state each time: a refused click gets an ephemeral answer with
 * the reason and changes nothing; a second click (or a click on a step already decided) says who decided.
 * Modals open at once (a trigger_id lives 3 s) on the interactive client, which never waits on a 429.
 */
import { ErrorCode } from '@slack/web-api';
import { ForbiddenError, NotAwaitingApprovalError, NotFoundError, SwitchboardError, type Principal } from '../../index.js';
import type { ApprovalView, DecideResult, Logger } from '../../index.js';
import { approvalFullText, decidedLine } from '../shared/approval-view.js';
import { displayName } from './cards.js';
import type { SlackClients } from './clients.js';
import type { SlackEngine } from './engine.js';
import { editModal, fullTextModal, INPUT, parseMeta, rejectModal, submittedText, type ModalMeta } from './modals.js';
import { plainReason } from './reply.js';
import { SURFACE, slackKey, slackPrincipal } from './refs.js';

export interface InteractionDeps {
  engine: SlackEngine;
  clients: SlackClients;
  logger: Logger;
}

export interface Click {
  team: string;
  user: string;
  approvalId: string;
  channel?: string;
  /** The clicked message (its thread is the conversation). */
  messageTs?: string;
  threadTs?: string;
  triggerId: string;
}

export type Verdict = { ok: true; result?: DecideResult } | { ok: false; message: string };

/** The thread the card is in takes the clicker as a participant (Slack shows the card only to channel members). */
async function vouch(deps: InteractionDeps, click: Pick<Click, 'team' | 'channel' | 'threadTs' | 'messageTs'>, who: Principal): Promise<void> {
  if (!click.channel || click.channel.startsWith('D')) return;
  const ts = click.threadTs ?? click.messageTs;
  if (!ts) return;
  const key = slackKey(click.team, click.channel, ts);
  if (await deps.engine.refs.get(SURFACE, 'conversation', key)) await deps.engine.conversation(key, who, { access: 'shared' });
}

export async function decideClick(deps: InteractionDeps, click: Pick<Click, 'team' | 'user' | 'approvalId' | 'channel' | 'threadTs' | 'messageTs'>, decision: { approve: boolean; feedback?: string; action?: string }): Promise<Verdict> {
  const by = slackPrincipal(click.team, click.user);
  try {
    await vouch(deps, click, by);
    const result = await deps.engine.decide(click.approvalId, { ...decision, by });
    if (result.alreadyDecided) return { ok: false, message: `Already decided: ${decidedLine(result.approval, displayName)}.` };
    return { ok: true, result };
  } catch (err) {
    return { ok: false, message: await refusal(deps, click.approvalId, err) };
  }
}

async function refusal(deps: InteractionDeps, approvalId: string, err: unknown): Promise<string> {
  if (err instanceof ForbiddenError) return `You may not decide this: ${err.message}`;
  if (err instanceof NotAwaitingApprovalError) {
    const view = await deps.engine.approvalView(approvalId).catch(() => null);
    return view && view.status !== 'pending' ? `Already decided: ${decidedLine(view, displayName)}.` : `This is no longer waiting for a decision: ${err.message}`;
  }
  if (err instanceof NotFoundError) return 'This approval no longer exists.';
  if (err instanceof SwitchboardError) return err.message;
  deps.logger.error('Slack decision failed', { approvalId, error: err });
  return 'Something went wrong; the decision was not recorded. Try again.';
}

/** Opens the Reject modal at once: nothing is read before views.open. */
export async function openReject(deps: InteractionDeps, click: Click): Promise<void> {
  const meta: ModalMeta = { approvalId: click.approvalId, ...(click.channel ? { channel: click.channel } : {}), team: click.team, ...threadOf(click) };
  await deps.clients.interactive(click.team).views.open({ trigger_id: click.triggerId, view: rejectModal(meta, 'The planner revises the remaining steps with your feedback.') });
}

/** Opens the Edit modal with the step's current action (one local read, then views.open). */
export async function openEdit(deps: InteractionDeps, click: Click): Promise<void> {
  const view = await deps.engine.approvalView(click.approvalId);
  const meta: ModalMeta = { approvalId: click.approvalId, ...(click.channel ? { channel: click.channel } : {}), team: click.team, ...threadOf(click) };
  await deps.clients.interactive(click.team).views.open({ trigger_id: click.triggerId, view: editModal(meta, view.step?.action ?? view.approval.summary) });
}

export async function openFullText(deps: InteractionDeps, click: Click): Promise<void> {
  const view: ApprovalView = await deps.engine.approvalView(click.approvalId);
  await deps.clients.interactive(click.team).views.open({ trigger_id: click.triggerId, view: fullTextModal(view.tool?.name ?? 'Details', approvalFullText(view)) });
}

/** A modal submission: the policy and state are checked now; a refusal is shown on the input. */
export async function submitModal(deps: InteractionDeps, kind: 'reject' | 'edit', team: string, user: string, privateMetadata: string, values: Record<string, Record<string, { value?: string | null }>>): Promise<{ errors?: Record<string, string> }> {
  const meta = parseMeta(privateMetadata);
  if (!meta) return { errors: { [INPUT.block]: 'This form lost track of its approval; click the button on the card again.' } };
  const text = submittedText(values);
  if (!text) return { errors: { [INPUT.block]: kind === 'reject' ? 'Say what should change.' : 'The action may not be empty.' } };
  const click = { team: meta.team ?? team, user, approvalId: meta.approvalId, ...(meta.channel ? { channel: meta.channel } : {}), ...(meta.threadTs ? { threadTs: meta.threadTs } : {}) };
  const verdict = await decideClick(deps, click, kind === 'reject' ? { approve: false, feedback: text } : { approve: true, action: text });
  return verdict.ok ? {} : { errors: { [INPUT.block]: verdict.message.slice(0, 2_000) } };
}

/** A short answer only the clicker sees, in the card's thread. */
export async function tellClicker(deps: InteractionDeps, click: Pick<Click, 'team' | 'user' | 'channel' | 'threadTs' | 'messageTs'>, text: string): Promise<void> {
  if (!click.channel) return;
  const thread = click.threadTs ?? click.messageTs;
  await deps.clients.interactive(click.team).chat.postEphemeral({ channel: click.channel, user: click.user, text, ...(thread ? { thread_ts: thread } : {}) });
}

/** What went wrong, in a few words: Slack's answer (rate limited, `expired_trigger_id`, …) or a short plain reason. */
export function whatSlackSaid(err: unknown): string {
  const e = err as { code?: string; data?: { error?: string } };
  if (e.code === ErrorCode.RateLimitedError) return 'rate limited';
  return e.data?.error ?? plainReason(err instanceof Error ? err.message : String(err));
}

function threadOf(click: Click): { threadTs?: string } {
  const ts = click.threadTs ?? click.messageTs;
  return ts ? { threadTs: ts } : {};
}
