/**
 * From a Slack message event to a queued run, before the event is acknowledged (Slack never redelivers
 * an acked event, so nothing may be lost after the ack):
 *
 * 1. Cheap filters first: bots (this one included), edits, deletions, joins and other subtypes, and
 *    channel messages that neither mention the bot nor continue one of its threads start nothing.
 * 2. The conversation of the thread (shared in a channel, private in a DM / the agent view).
 * 3. The core's idempotent `send` keyed by the message itself (team + channel + ts): a retry (same
 *    event_id) and the mention's twin (`app_mention` + `message`, different event_ids) get the same run,
 *    across replicas and restarts.
 * 4. After the ack, claiming the run's reference decides who streams the reply: exactly one handler of
 *    one replica.
 */
import type { Conversation, Logger, Run } from '../../index.js';
import type { Json, SlackEngine } from './engine.js';
import { downloadImages, type SlackFile } from './files.js';
import { SURFACE, slackKey, slackPrincipal, type ConversationRef, type KeyRef } from './refs.js';

export interface MessageLike {
  type: string;
  subtype?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel: string;
  channel_type?: string;
  files?: SlackFile[];
}

export interface Intake {
  team: string;
  channel: string;
  /** The thread: the root message's ts. */
  threadTs: string;
  ts: string;
  user: string;
  text: string;
  files: SlackFile[];
  direct: boolean;
  mentioned: boolean;
}

/** Subtypes that carry a person's new message; every other subtype (edits, deletes, joins, bots…) is ignored. */
const PERSON_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

/** The event as a person's message to consider, or null to drop it without any lookup. */
export function classify(team: string, event: MessageLike, botUserId: string | undefined): Intake | null {
  if (!PERSON_SUBTYPES.has(event.subtype) || event.bot_id || !event.user) return null;
  if (botUserId && event.user === botUserId) return null;
  const direct = event.channel_type === 'im' || event.channel.startsWith('D');
  const mention = botUserId ? `<@${botUserId}>` : null;
  const mentioned = event.type === 'app_mention' || (mention !== null && (event.text ?? '').includes(mention));
  // A top-level channel message without a mention cannot belong to the bot.
  if (!direct && !mentioned && !event.thread_ts) return null;
  const text = (mention ? (event.text ?? '').split(mention).join('') : (event.text ?? '')).replace(/\s+/g, ' ').trim();
  return { team, channel: event.channel, threadTs: event.thread_ts ?? event.ts, ts: event.ts, user: event.user, text, files: event.files ?? [], direct, mentioned };
}

export interface IntakeDeps {
  engine: SlackEngine;
  logger: Logger;
  botToken: (team: string) => string;
  fileHosts: string[];
  maxImageBytes: number;
  /** Thread keys whose references this process has written: later messages skip those writes. */
  known: Set<string>;
}

/** `drive` false: a twin of a message this process is writing already. `claim` decides, after the ack, who streams the reply. */
export type IntakeResult = { run: Run; conversation: Conversation; drive: boolean; claim: () => Promise<boolean> } | null;

/**
 * The mention's twin usually arrives while the first copy is being written: it waits for that write
 * (no second download, no second lookup) and drives nothing. Other replicas and restarts rely on the
 * store's idempotency key and the run's claimed reference instead.
 */
export class InFlight {
  readonly #byKey = new Map<string, Promise<IntakeResult>>();

  constructor(private readonly max = 10_000) {}

  run(key: string, work: () => Promise<IntakeResult>): Promise<IntakeResult> {
    const first = this.#byKey.get(key);
    if (first) return first.then((r) => (r ? { ...r, drive: false } : null));
    const p = work();
    this.#byKey.set(key, p);
    // A failed write is not remembered: Slack's retry must be able to try again.
    p.catch(() => this.#byKey.delete(key));
    if (this.#byKey.size > this.max) this.#byKey.delete(this.#byKey.keys().next().value!);
    return p;
  }
}

/**
 * Writes the message durably (or finds it written) and says whether this handler should drive the reply.
 * Null: not for the bot (a thread reply in a thread it is not part of, an empty message).
 */
export async function intake(deps: IntakeDeps, m: Intake): Promise<IntakeResult> {
  const { engine } = deps;
  const key = slackKey(m.team, m.channel, m.threadTs);
  const principal = slackPrincipal(m.team, m.user);
  let conversationId: string | null = null;
  if (!m.direct && !m.mentioned) {
    // A reply without a mention continues a thread only if the bot is already part of it.
    const known = (await engine.refs.get(SURFACE, 'conversation', key)) as KeyRef | null;
    if (!known) return null;
    conversationId = known.conversationId;
  }
  const { images, skipped } = await downloadImages(m.files, deps.botToken(m.team), { fileHosts: deps.fileHosts, maxBytes: deps.maxImageBytes, logger: deps.logger });
  let text = m.text;
  if (skipped.length > 0) text += `\n\n(Attachments not read: ${skipped.join('; ')}.)`;
  if (!text.trim() && images.length === 0) return null;

  // The thread's members may all take part: the surface vouches for them by naming the thread shared.
  const conversation = await engine.conversation(key, principal, { access: m.direct ? 'private' : 'shared' });
  if (conversationId === null && !deps.known.has(key)) {
    const where: ConversationRef = { team: m.team, channel: m.channel, threadTs: m.threadTs };
    await Promise.all([
      engine.refs.claim(SURFACE, 'conversation', key, { conversationId: conversation.id } satisfies KeyRef as unknown as Json),
      engine.refs.claim(SURFACE, 'conversation', conversation.id, where as unknown as Json),
    ]);
  }
  deps.known.add(key);
  const run = await engine.send(conversation.id, { text: text.trim() || 'Look at the attached image.', ...(images.length ? { images } : {}), from: principal, idempotencyKey: slackKey(m.team, m.channel, m.ts) });
  // After the ack: whoever claims the run's reference first (this handler, a twin, a retry on another replica) drives it.
  const claim = async () => (await engine.refs.claim(SURFACE, 'run', run.id, { channel: m.channel, threadTs: m.threadTs, user: m.user })).claimed;
  return { run, conversation, drive: true, claim };
}
