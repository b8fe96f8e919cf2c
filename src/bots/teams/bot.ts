/**
 * The activity handler: turns Teams activities into engine calls and answers within the turn only
 * what must be answered there (invokes). Messages are written durably first (`send` with the activity's
 * id as idempotency key: a redelivered activity returns the same run and starts nothing), then the
 * reply is delivered proactively after the turn (replies.ts).
 */
import { TeamsActivityHandler, TurnContext, type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type Activity } from 'botbuilder';
import type { Logger, Principal } from '../../index.js';
import type { TeamsSettings } from './config.js';
import type { Target, TeamsConnector } from './connector.js';
import type { FaceHelpers, Json, TeamsEngine } from './engine.js';
import { imagesOf } from './images.js';
import { answerCardAction, type CardAction } from './invokes.js';
import { deliverReply, type ReplyDeps } from './replies.js';
import type { ConversationRef, CardSync } from './sync.js';

export const WELCOME =
  'Hi! I am Switchboard: write to me (in channels, @mention me) and a team of agents answers here — images welcome.\n\n' +
  'Say **plan** and a goal for a plan whose steps wait for your approval; tool calls with side effects ask first too.';

export interface BotDeps {
  engine: TeamsEngine;
  helpers: FaceHelpers;
  connector: TeamsConnector;
  sync: CardSync;
  settings: TeamsSettings;
  logger: Logger;
  reply: Omit<ReplyDeps, 'engine' | 'helpers' | 'connector'>;
  token: (serviceUrl: string) => Promise<string | null>;
  maxImageBytes: number;
  /** Background work started by turns (replies, welcome), tracked so tests and shutdown can wait for it. */
  track: (work: Promise<unknown>) => void;
}

type Kind = 'personal' | 'groupChat' | 'channel';

export class SwitchboardTeamsBot extends TeamsActivityHandler {
  readonly #d: BotDeps;

  constructor(deps: BotDeps) {
    super();
    this.#d = deps;
    this.onMessage(async (context, next) => {
      await this.#message(context);
      await next();
    });
    this.onMembersAdded(async (context, next) => {
      const me = context.activity.recipient.id;
      const a = context.activity;
      if (a.membersAdded?.some((m) => m.id === me) && this.#tenantAllowed(a)) {
        // Added to a team: the welcome is a new post in the channel (its id has no `;messageid=`), not a thread of its own.
        if (kindOf(a) !== 'channel') await this.#remember(a, null);
        // A redelivered install (same activity id) welcomes once, across replicas too.
        const first = a.id ? await this.#d.engine.refs.claim('teams', 'conversation', `welcome:${a.conversation.id}:${a.id}`, true) : { claimed: true };
        const target: Target = { serviceUrl: a.serviceUrl, conversationId: a.conversation.id, tenantId: tenantOf(a) };
        if (first.claimed) this.#d.track(this.#d.connector.send(target, { type: 'message', text: WELCOME }).catch((e) => this.#d.logger.warn('Teams welcome failed', { error: e })));
      }
      await next();
    });
  }

  protected override async onAdaptiveCardInvoke(context: TurnContext, value: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    const a = context.activity;
    if (!this.#tenantAllowed(a)) return { statusCode: 403, type: 'application/vnd.microsoft.error', value: { code: 'Forbidden', message: 'This bot serves one tenant.' } };
    const principal = principalOf(a);
    const conversationId = await this.#conversationIdFor(a, principal).catch(() => null);
    const answer = await answerCardAction(this.#d.engine, this.#d.sync, value.action as unknown as CardAction, principal, conversationId);
    if (answer.kind === 'card') return { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: answer.card };
    if (answer.kind === 'message') return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: answer.text as unknown as Record<string, unknown> };
    return { statusCode: answer.status, type: 'application/vnd.microsoft.error', value: { code: answer.code, message: answer.message } };
  }

  async #message(context: TurnContext): Promise<void> {
    const a = context.activity;
    if (!this.#tenantAllowed(a)) return void this.#d.logger.warn('Teams message from another tenant ignored', { tenant: tenantOf(a) });
    const kind = kindOf(a);
    // With the RSC permissions Teams sends every message of a chat or channel the bot is in. A channel
    // thread the bot takes part in continues without a mention; anything else needs one.
    if (kind !== 'personal' && !mentionsBot(a) && !(kind === 'channel' && (await this.#d.engine.refs.get('teams', 'conversation', `key:${keyOf(a)}`)))) return;
    const text = withoutBotMentions(a);
    const principal = principalOf(a);
    const { conversationId } = await this.#remember(a, principal);
    const target = targetOf(a);

    const plan = /^plan\b[:\s]*(.*)$/is.exec(text);
    if (plan) {
      const goal = plan[1]!.trim();
      if (!goal) return void this.#d.track(this.#d.connector.send(target, { type: 'message', text: 'Say **plan** followed by the goal, e.g. `plan a launch checklist for Friday`.' }));
      // The planner takes seconds and Teams wants the turn answered sooner: plan after the turn, once per
      // activity (a redelivered command finds its claim taken).
      const first = await this.#d.engine.refs.claim('teams', 'plan', `activity:${a.conversation.id}:${a.id}`, { conversationId } as Json);
      if (!first.claimed) return;
      this.#d.track(
        this.#d.engine.plan(conversationId, goal, principal).catch((err: unknown) =>
          this.#d.connector.send(target, { type: 'message', text: `Sorry, I could not plan that: ${this.#d.helpers.preview(String((err as Error).message ?? err), 300)}` }),
        ),
      );
      return;
    }
    if (/^help$/i.test(text)) return void this.#d.track(this.#d.connector.send(target, { type: 'message', text: WELCOME }));

    const { images, skipped } = await imagesOf(a, {
      anonymous: this.#d.settings.mode === 'anonymous',
      serviceUrl: a.serviceUrl,
      token: () => this.#d.token(a.serviceUrl),
      maxBytes: this.#d.maxImageBytes,
    });
    if (!text && images.length === 0) return;
    const run = await this.#d.engine.send(conversationId, {
      text: text || 'What is in this image?',
      from: principal,
      ...(images.length ? { images } : {}),
      idempotencyKey: `teams:${a.conversation.id}:${a.id}`,
    });
    // Exactly one reply per run, across redeliveries and replicas.
    const claim = await this.#d.engine.refs.claim('teams', 'run', run.id, { activityId: a.id ?? null } as Json);
    if (!claim.claimed) return void this.#d.logger.debug('Teams activity seen before; its run already has a reply on the way', { run: run.id });
    const deps: ReplyDeps = { ...this.#d.reply, engine: this.#d.engine, helpers: this.#d.helpers, connector: this.#d.connector };
    this.#d.track(deliverReply(deps, { runId: run.id, target, personal: kind === 'personal', ...(skipped.length ? { notes: skipped } : {}) }));
  }

  /** Records the conversation (shared unless personal) and where to reach it later. */
  async #remember(a: Activity, principal: Principal | null): Promise<{ conversationId: string }> {
    const kind = kindOf(a);
    const who = principal ?? principalOf(a);
    const conv = await this.#d.engine.conversation(keyOf(a), who, { access: kind === 'personal' ? 'private' : 'shared' });
    const previous = (await this.#d.engine.refs.get('teams', 'conversation', conv.id)) as unknown as ConversationRef | null;
    const userIds = principal ? [a.from.id, ...(previous?.userIds ?? []).filter((u) => u !== a.from.id)].slice(0, 20) : (previous?.userIds ?? []);
    const ref: ConversationRef = { ...targetOf(a), personal: kind === 'personal', userIds };
    await this.#d.engine.refs.put('teams', 'conversation', conv.id, ref as unknown as Json);
    if (kind === 'channel' && !previous) await this.#d.engine.refs.put('teams', 'conversation', `key:${keyOf(a)}`, conv.id);
    return { conversationId: conv.id };
  }

  async #conversationIdFor(a: Activity, principal: Principal): Promise<string> {
    const conv = await this.#d.engine.conversation(keyOf(a), principal, { access: kindOf(a) === 'personal' ? 'private' : 'shared' });
    return conv.id;
  }

  #tenantAllowed(a: Activity): boolean {
    const s = this.#d.settings;
    if (s.mode !== 'authenticated' || s.appType !== 'SingleTenant') return true;
    return tenantOf(a) === s.tenantId;
  }
}

export function kindOf(a: Activity): Kind {
  const t = a.conversation?.conversationType;
  return t === 'channel' || t === 'groupChat' ? t : 'personal';
}

export function tenantOf(a: Activity): string {
  return a.conversation?.tenantId ?? (a.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id ?? 'unknown';
}

export function principalOf(a: Activity): Principal {
  return { surface: 'teams', tenant: tenantOf(a), userId: a.from.aadObjectId ?? a.from.id, ...(a.from.name ? { displayName: a.from.name } : {}) };
}

/** A channel thread is its own conversation: the channel id with `;messageid=<root>`. */
export function threadConversationId(a: Activity): string {
  const id = a.conversation.id;
  if (kindOf(a) !== 'channel' || id.includes(';messageid=')) return id;
  return `${id};messageid=${a.replyToId ?? a.id}`;
}

export function keyOf(a: Activity): string {
  return `teams:${tenantOf(a)}:${threadConversationId(a)}`;
}

export function targetOf(a: Activity): Target {
  return { serviceUrl: a.serviceUrl, conversationId: threadConversationId(a), tenantId: tenantOf(a) };
}

export function mentionsBot(a: Activity): boolean {
  return TurnContext.getMentions(a).some((m) => m.mentioned?.id === a.recipient.id);
}

/** Removes every mention of the bot (botbuilder's removeRecipientMention removes only the first). */
export function withoutBotMentions(a: Activity): string {
  let text = a.text ?? '';
  for (const m of TurnContext.getMentions(a)) {
    if (m.mentioned?.id === a.recipient.id && m.text) text = text.split(m.text).join(' ');
  }
  return text.replace(/<at>[^<]*<\/at>/g, (m) => (a.recipient.name && m.includes(a.recipient.name) ? ' ' : m)).replace(/\s+/g, ' ').trim();
}
