/**
 * What the Slack bot keeps in the store's surface references (shared by replicas, kept across restarts):
 * - `conversation` by conversation id: where it lives in Slack (team, channel, thread);
 * - `conversation` by Slack key (`slack:T:C:thread`): which conversation a thread is, so a reply without
 *   a mention continues it and an unrelated thread costs one lookup;
 * - `run` by run id: the replica that claimed it drives the reply (a retried event or the mention's twin
 *   finds it claimed);
 * - `plan` / `approval` by id: the message that shows the card.
 */
import type { Principal } from '../../index.js';

export const SURFACE = 'slack';

export interface ConversationRef {
  team: string;
  channel: string;
  threadTs: string;
  /** A plan started by the slash command: its top-level message is the plan card. */
  planMessageTs?: string;
}

export interface KeyRef {
  conversationId: string;
}

export interface MessageRef {
  channel: string;
  ts: string | null;
}

/**
 * `slack:T:C:ts`. With a thread's root ts it is the conversation key of that thread (a top-level
 * message is the root of its own thread); with a message's ts it is the idempotency key of that
 * message, the same for its retries and its mention twin.
 */
export function slackKey(team: string, channel: string, ts: string): string {
  return `slack:${team}:${channel}:${ts}`;
}

export function slackPrincipal(team: string, user: string): Principal {
  return { surface: 'slack', tenant: team, userId: user };
}
