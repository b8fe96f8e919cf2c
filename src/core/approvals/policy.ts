import type { Config } from '../agents/spec.js';
import { principalId, type Conversation, type Principal } from '../store/types.js';
import type { Approval } from './types.js';

export type ApprovalPolicy = Config['approvals']['policy'];

export type PolicyVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Who may decide an approval, per `approvals.policy.who`:
 * - `requester`: the person whose request led to it (the conversation's owner when nobody is recorded);
 * - `conversation`: anyone taking part in the conversation: its owner, or, in a shared conversation, anyone
 *   recorded as a participant (admitted by its surface, or who sent a message or made a plan in it). A private
 *   conversation stays its owner's: a participant recorded there (before participants were kept) counts for nothing;
 * - `approvers`: only the principal ids listed in `approvals.policy.approvers`.
 */
export async function mayDecide(
  policy: ApprovalPolicy,
  approval: Pick<Approval, 'requestedBy'>,
  conversation: Conversation,
  by: Principal,
  isParticipant: () => Promise<boolean>,
): Promise<PolicyVerdict> {
  const who = principalId(by);
  if (policy.who === 'approvers') {
    if (policy.approvers.includes(who)) return { ok: true };
    if (policy.approvers.length === 0) {
      return { ok: false, reason: `Approvals here are decided by configured approvers, and none are configured (approvals.policy.approvers is empty), so ${who} may not decide.` };
    }
    return { ok: false, reason: `Only the configured approvers (${policy.approvers.join(', ')}) may decide approvals; ${who} is not one of them.` };
  }
  const requester = approval.requestedBy ?? conversation.owner;
  if (principalId(requester) === who) return { ok: true };
  if (policy.who === 'requester') {
    return { ok: false, reason: `Only the person who asked (${principalId(requester)}) may decide this approval; ${who} may not.` };
  }
  if (principalId(conversation.owner) === who || (conversation.access === 'shared' && (await isParticipant()))) return { ok: true };
  return { ok: false, reason: `Only people taking part in this conversation may decide its approvals; ${who} has not taken part in it.` };
}
