/**
 * `adaptiveCard/action` invokes: answered at once with the card as this user should now see it.
 * Deciding is one write in the engine; everything slower (the step running, the base card edited for
 * everyone) happens after the answer. A refusal (the policy) or a second click answers only the person
 * who clicked, with the reason or who decided, and changes nothing for anyone else.
 */
import { ForbiddenError, NotAwaitingApprovalError, NotFoundError, type Principal } from '../../index.js';
import type { Card, CardData, CardOptions } from './cards.js';
import type { ApprovalView, TeamsEngine } from './engine.js';
import { nameOf, renderApproval, renderPlan, type CardSync } from './sync.js';

export interface CardAction {
  verb: string;
  data: CardData & { feedback?: string; action?: string };
}

export type InvokeAnswer = { kind: 'card'; card: Card } | { kind: 'message'; text: string } | { kind: 'error'; status: number; code: string; message: string };

export async function answerCardAction(engine: TeamsEngine, sync: CardSync, action: CardAction, principal: Principal, conversationId: string | null): Promise<InvokeAnswer> {
  const { verb, data } = action;
  if (!data || typeof data.id !== 'string' || !['plan', 'approval', 'run'].includes(data.on))
    return { kind: 'error', status: 400, code: 'BadRequest', message: 'This card action carries no plan, approval or run id.' };
  const render = (opts: CardOptions) => (data.on === 'plan' ? renderPlan(engine, data.id, opts) : renderApproval(engine, data.approvalId ?? data.id, opts));

  try {
    if (data.on === 'run') {
      if (verb !== 'stop') return { kind: 'error', status: 400, code: 'BadRequest', message: `Unknown action ${verb}.` };
      // getRun with the principal: ForbiddenError for someone outside the conversation.
      const run = await engine.getRun(data.id, principal);
      if (['completed', 'failed', 'cancelled'].includes(run.status)) return { kind: 'message', text: 'That already finished.' };
      await engine.cancel(data.id, `stopped in Teams by ${nameOf(principal)}`);
      return { kind: 'message', text: 'Stopping.' };
    }

    /** Buttons for this viewer: whatever waits now (another step than the one clicked, perhaps) and whether they may decide it. */
    const mayAct = async () => {
      const approvalId = await pendingApprovalOf(engine, data);
      const view = approvalId ? await engine.approvalView(approvalId, principal) : null;
      return !view || (view.status === 'pending' && view.mayDecide?.ok !== false);
    };
    if (verb === 'refresh') return { kind: 'card', card: await render({ buttons: await mayAct() }) };

    if (verb !== 'approve' && verb !== 'reject' && verb !== 'edit') return { kind: 'error', status: 400, code: 'BadRequest', message: `Unknown action ${verb}.` };
    const approvalId = data.approvalId;
    if (!approvalId) return { kind: 'card', card: await render({ notice: 'Nothing waits for a decision here any more.', buttons: await mayAct() }) };
    const view = await engine.approvalView(approvalId, principal);
    // A click on a step already decided: who decided it, and the buttons of the step waiting now, if any.
    if (view.status !== 'pending') return { kind: 'card', card: await render({ notice: decidedNotice(view), buttons: await mayAct() }) };
    if (view.mayDecide && !view.mayDecide.ok) return { kind: 'card', card: await render({ notice: `You cannot decide this: ${view.mayDecide.reason}`, buttons: false }) };
    const feedback = typeof data.feedback === 'string' && data.feedback.trim() ? data.feedback.trim() : undefined;
    const edited = verb === 'edit' && typeof data.action === 'string' && data.action.trim() ? data.action.trim() : undefined;
    const result = await engine.decide(approvalId, { approve: verb !== 'reject', by: principal, ...(feedback ? { feedback } : {}), ...(edited ? { action: edited } : {}) });
    if (result.alreadyDecided) {
      const now = await engine.approvalView(approvalId, principal);
      return { kind: 'card', card: await render({ notice: decidedNotice(now), buttons: await mayAct() }) };
    }
    // The base card, for everyone: edited in place after this answer.
    if (conversationId) sync.sync(data.on === 'plan' ? 'plan' : 'approval', data.id, conversationId);
    return { kind: 'card', card: await render({}) };
  } catch (err) {
    if (err instanceof ForbiddenError) {
      if (data.on === 'run') return { kind: 'message', text: `You cannot stop this: ${err.message}` };
      return { kind: 'card', card: await render({ notice: `You cannot decide this: ${err.message}`, buttons: false }) };
    }
    if (err instanceof NotAwaitingApprovalError) return { kind: 'card', card: await render({ notice: err.message, buttons: false }) };
    if (err instanceof NotFoundError) return { kind: 'error', status: 404, code: 'NotFound', message: err.message };
    throw err;
  }
}

async function pendingApprovalOf(engine: TeamsEngine, data: CardData): Promise<string | null> {
  if (data.on === 'approval') return data.approvalId ?? data.id;
  const plan = await engine.getPlan(data.id);
  return plan.steps.find((s) => s.status === 'awaiting_approval' && s.approvalId)?.approvalId ?? null;
}

function decidedNotice(view: ApprovalView): string {
  if (view.status === 'cancelled') return 'This was cancelled.';
  return `Already ${view.status} by ${nameOf(view.decidedBy)}${view.feedback ? `: ${view.feedback}` : ''}.`;
}
