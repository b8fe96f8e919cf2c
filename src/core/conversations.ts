import { ForbiddenError, NotFoundError } from './errors.js';
import type { IdGenerator } from './ids.js';
import { sameKeyRun } from './store/intake-errors.js';
import { principalId, type Conversation, type ConversationAccess, type Principal, type Run, type Store } from './store/types.js';

/**
 * Who may use a conversation. A private one (a DM, an MCP user's, the CLI's) is its owner's alone; a
 * shared one (a Slack or Teams channel thread) is open to everyone the surface admitted, each of whom
 * the core records as a participant (`conversation(key, principal, { access: 'shared' })`, `send`).
 */

export interface ConversationOptions {
  /** `private` by default. Decided when the conversation is created; later calls do not change it. */
  access?: ConversationAccess;
  title?: string;
}

/**
 * Whether `principal` may use the conversation: its owner always; for a shared conversation, anyone in
 * `participants` (its recorded participants; `Switchboard.participants` lists them).
 */
export function mayAccess(conversation: Conversation, principal: Principal, participants: readonly Principal[] = []): boolean {
  const who = principalId(principal);
  if (principalId(conversation.owner) === who) return true;
  return conversation.access === 'shared' && participants.some((p) => principalId(p) === who);
}

/**
 * The conversation for a surface key, created on first use and owned by `principal`. For a shared one,
 * the surface vouches that `principal` belongs there, so `principal` is recorded as a participant; a
 * private one stays its owner's (ForbiddenError for anyone else).
 */
export async function admit(store: Store, ids: IdGenerator, key: string, principal: Principal, opts: ConversationOptions = {}): Promise<Conversation> {
  const { conversation, created } = await store.getOrCreateConversation(key, principal, ids('conv'), { access: opts.access, title: opts.title });
  if (created || principalId(conversation.owner) === principalId(principal)) return conversation;
  if (conversation.access !== 'shared') throw new ForbiddenError(`Conversation "${key}" is private to ${principalId(conversation.owner)}.`);
  await store.addParticipant(conversation.id, principal);
  return conversation;
}

/**
 * Refuses `principal` a part in a private conversation that is not theirs (sending into it, making a plan in
 * it): a private conversation stays its owner's. A shared one takes anyone the surface sends from, as its
 * participant (the surface vouches for them).
 */
export function assertMayTakePart(conversation: Conversation, principal: Principal): void {
  if (conversation.access === 'shared' || principalId(conversation.owner) === principalId(principal)) return;
  throw new ForbiddenError(`Conversation "${conversation.key}" is private to ${principalId(conversation.owner)}; ${principalId(principal)} may not take part in it.`);
}

/** A conversation by id; with `principal`, ForbiddenError unless its owner or (shared) a participant. */
export async function accessible(store: Store, id: string, principal?: Principal): Promise<Conversation> {
  const conversation = await store.getConversation(id);
  if (!conversation) throw new NotFoundError('conversation', id);
  if (!principal || mayAccess(conversation, principal)) return conversation;
  if (conversation.access === 'shared' && (await store.isParticipant(id, principal))) return conversation;
  throw new ForbiddenError(`Conversation "${id}" belongs to someone else.`);
}

/** The run an idempotency key already started (IdempotencyConflictError when in another conversation), else null. */
export async function runForKey(store: Store, key: string | undefined, conversationId: string): Promise<Run | null> {
  if (key === undefined) return null;
  const run = await store.getRunByIdempotencyKey(key);
  return run && sameKeyRun(run, key, conversationId);
}
