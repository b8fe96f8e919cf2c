/**
 * Adaptive Cards (version 1.5, Universal Actions): the plan card, the tool-approval card and the
 * working card of a group reply. Every button is an `Action.Execute` whose data names what it acts
 * on (approval, plan, run), so a click works after a restart and on any replica. Pure functions of
 * what the engine says; who may click is checked again when the click arrives.
 */
import type { Plan } from '../../index.js';
import { stepLabel } from '../shared/plan-view.js';
import { taskLines, type EventView } from '../shared/event-view.js';
import type { ApprovalView } from './engine.js';

export type Card = Record<string, unknown>;
export type CardVerb = 'approve' | 'reject' | 'edit' | 'stop' | 'refresh';
/** What an Action.Execute carries back in `value.action.data`. */
export interface CardData {
  on: 'plan' | 'approval' | 'run';
  id: string;
  approvalId?: string;
}

export interface StepDecisionInfo {
  by: string;
  approved: boolean;
  feedback?: string;
}

export interface CardOptions {
  /** One line on top, for the person who clicked (a refusal, "already decided by X"). */
  notice?: string;
  /** false: no buttons (this viewer may not decide). */
  buttons?: boolean;
  /** Teams user ids (29:…) whose card refreshes itself to their own view. */
  refreshUserIds?: string[];
  /** Longest action or argument text shown; Teams caps a card's payload near 28 KB. */
  maxText?: number;
}

const base = (body: unknown[], actions: unknown[] = [], refresh?: unknown): Card => ({
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.5',
  body,
  ...(actions.length ? { actions } : {}),
  ...(refresh ? { refresh } : {}),
});

const text = (t: string, extra: Record<string, unknown> = {}) => ({ type: 'TextBlock', text: t, wrap: true, ...extra });
const execute = (title: string, verb: CardVerb, data: CardData, extra: Record<string, unknown> = {}) => ({ type: 'Action.Execute', title, verb, data, ...extra });

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function refreshOf(data: CardData, userIds: string[] | undefined) {
  return userIds?.length ? { action: { type: 'Action.Execute', title: 'Refresh', verb: 'refresh', data }, userIds: userIds.slice(0, 60) } : undefined;
}

/** The three decision buttons: Approve; Reject and Edit open an input first (both still Action.Execute). */
function decisionActions(data: CardData, opts: { edit?: string; maxText: number }): unknown[] {
  const actions: unknown[] = [
    execute('Approve', 'approve', data, { style: 'positive' }),
    {
      type: 'Action.ShowCard',
      title: 'Reject',
      card: base([{ type: 'Input.Text', id: 'feedback', label: 'What should change?', isMultiline: true, maxLength: 2000 }], [execute('Reject', 'reject', data, { style: 'destructive' })]),
    },
  ];
  if (opts.edit !== undefined)
    actions.push({
      type: 'Action.ShowCard',
      title: 'Edit',
      card: base(
        [{ type: 'Input.Text', id: 'action', label: 'Action to run instead', isMultiline: true, value: shorten(opts.edit, opts.maxText), isRequired: true, errorMessage: 'Write the action to run.' }],
        [execute('Approve edited', 'edit', data)],
      ),
    });
  return actions;
}

export function planCard(plan: Plan, decisions: ReadonlyMap<string, StepDecisionInfo>, opts: CardOptions = {}): Card {
  const maxText = opts.maxText ?? 1_000;
  const done = ['completed', 'failed', 'cancelled'].includes(plan.status);
  const body: unknown[] = [];
  if (opts.notice) body.push(text(opts.notice, { color: 'attention', weight: 'bolder' }));
  body.push(text(`**Plan:** ${shorten(plan.goal, maxText)}`, { size: 'medium' }));
  body.push(text(`Status: ${plan.status.replace('_', ' ')}${plan.revision > 1 ? ` · revision ${plan.revision}` : ''}`, { isSubtle: true, spacing: 'none' }));
  const awaiting = done ? undefined : plan.steps.find((s) => s.status === 'awaiting_approval' && s.approvalId);
  for (const s of plan.steps) {
    const d = s.approvalId ? decisions.get(s.approvalId) : undefined;
    const who = d ? ` · ${d.approved ? 'approved' : 'rejected'} by ${d.by}${d.feedback ? `: ${shorten(d.feedback, 200)}` : ''}` : '';
    body.push({
      type: 'Container',
      style: s === awaiting ? 'emphasis' : undefined,
      items: [
        text(`**${s.index}. ${s.agent}** — ${shorten(s.action, maxText)}`),
        text(`${stepLabel(s.status)}${who}`, { isSubtle: true, spacing: 'none' }),
        ...(s.status === 'failed' && s.error ? [text(shorten(s.error, 300), { color: 'attention', spacing: 'none' })] : []),
      ],
    });
  }
  if (plan.summary) body.push(text(shorten(plan.summary, 4 * maxText)));
  if (plan.error) body.push(text(shorten(plan.error, 500), { color: 'attention' }));
  const data: CardData = { on: 'plan', id: plan.id, ...(awaiting?.approvalId ? { approvalId: awaiting.approvalId } : {}) };
  const actions = awaiting && opts.buttons !== false ? decisionActions(data, { edit: awaiting.action, maxText }) : [];
  return base(body, actions, refreshOf({ on: 'plan', id: plan.id }, done ? undefined : opts.refreshUserIds));
}

export function approvalCard(view: ApprovalView, opts: CardOptions = {}): Card {
  const maxText = opts.maxText ?? 1_000;
  const body: unknown[] = [];
  if (opts.notice) body.push(text(opts.notice, { color: 'attention', weight: 'bolder' }));
  const title = view.tool ? `**${view.agent}** wants to call **${view.tool.name}**` : `**${view.agent}** asks for approval`;
  body.push(text(title, { size: 'medium' }));
  if (view.tool) {
    const args = view.tool.arguments as Record<string, unknown> | undefined;
    const code = args && typeof args === 'object' ? (['code', 'script', 'command', 'source'].map((k) => args[k]).find((v) => typeof v === 'string') as string | undefined) : undefined;
    const shown = code ?? JSON.stringify(view.tool.arguments, null, 2);
    body.push({ type: 'TextBlock', text: '```\n' + shorten(shown, maxText) + '\n```', wrap: true, fontType: 'monospace' });
    if (shown.length > maxText) body.push(text(`(${shown.length} characters; shortened)`, { isSubtle: true }));
  } else if (view.step) body.push(text(`Step ${view.step.index}: ${shorten(view.step.action, maxText)}`));
  if (view.status !== 'pending') {
    const by = view.decidedBy?.displayName ?? view.decidedBy?.userId;
    body.push(text(`${view.status}${by ? ` by ${by}` : ''}${view.feedback ? `: ${shorten(view.feedback, 300)}` : ''}`, { weight: 'bolder' }));
  }
  const data: CardData = { on: 'approval', id: view.approval.id, approvalId: view.approval.id };
  const actions = view.status === 'pending' && opts.buttons !== false ? decisionActions(data, { ...(view.canEdit && view.step ? { edit: view.step.action } : {}), maxText }) : [];
  return base(body, actions, refreshOf(data, view.status === 'pending' ? opts.refreshUserIds : undefined));
}

/** A group reply while it works: who is doing what, and Stop (cancels the run for people the policy allows). */
export function workingCard(view: EventView, runId: string, finished: boolean): Card {
  const lines = taskLines(view.tasks()).slice(-12);
  const body: unknown[] = [text(finished ? '**Done**' : `**Working…** ${view.status() ?? ''}`)];
  if (lines.length) body.push(text(lines.join('\n\n'), { isSubtle: true, spacing: 'small' }));
  return base(body, finished ? [] : [execute('Stop', 'stop', { on: 'run', id: runId })]);
}

export const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
export const cardAttachment = (card: Card) => ({ contentType: CARD_CONTENT_TYPE, content: card });
