/**
 * What the Slack bot keeps in the store's surface references (shared by replicas, kept across restarts):
 * - `conversation` by conversation id: where it lives in Slack (team, channel, thread);
 * - `conversation` by Slack key (`slack:T:C:thread`): which conversation a thread is, so a reply without
 *   a mention continues it and an unrelated thread costs one lookup;
 * - `run` by run id: the replica that claimed it drives the reply (a retried event or the mention's twin
 *   finds it claimed), beating in it while it does (`RunRef`, handoff.ts);
 * - `plan` / `approval` by id: the message that shows the card.
 */
import type { Principal } from '../../index.js';
import type { Json, SlackEngine } from './engine.js';

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

/** The run's reference: where its reply goes, who asked; then the driver's beat and its end. */
export interface RunRef {
  channel: string;
  threadTs: string;
  user: string;
  /** When the driver last said it was alive (ms since the epoch). */
  beat?: number;
  /** Characters of the reply shown so far (at the last beat, or when released). */
  shown?: number;
  /** The driver let go at shutdown. */
  released?: boolean;
  /** The driver finished the reply. */
  done?: boolean;
}

export function writeRunRef(deps: { engine: Pick<SlackEngine, 'refs'> }, runId: string, ref: RunRef): Promise<void> {
  return deps.engine.refs.put(SURFACE, 'run', runId, ref as unknown as Json);
}
