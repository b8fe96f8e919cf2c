/**
 * The Slack bot: a Bolt app over the face. `createSlackBot` wires Bolt's listeners to intake (messages),
 * the reply driver, the card keeper, clicks and modals, the agent view and the slash command. Over HTTP
 * it exposes a route for `/slack/events`; over Socket Mode it connects itself.
 */
import { setMaxListeners } from 'node:events';
import type http from 'node:http';
import { App } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { preview, type Logger, type SwitchboardEvent } from '../../index.js';
import { ACTIONS } from './blocks.js';
import { CardKeeper } from './cards.js';
import { createClients, slackLogger, type SlackClients } from './clients.js';
import type { SlackSettings } from './config.js';
import type { SlackEngine } from './engine.js';
import { Installations } from './installations.js';
import { classify, InFlight, intake, type MessageLike } from './intake.js';
import { decideClick, openEdit, openFullText, openReject, submitModal, tellClicker, whatSlackSaid, type Click } from './interactions.js';
import { MODALS } from './modals.js';
import { HeldAckSocketReceiver, httpReceiver } from './receivers.js';
import { Handoff } from './handoff.js';
import { driveReply } from './reply.js';
import { slackKey } from './refs.js';
import { stopSession, startPlanCommand } from './session.js';

export interface SlackBotOptions {
  engine: SlackEngine & { on(conversationId: '*', listener: (e: SwitchboardEvent) => void): () => void };
  settings: SlackSettings;
  logger: Logger;
  /** Largest image accepted from Slack (default: 10 MB, the engine's default). */
  maxImageBytes?: number;
  /**
   * Run ends the engine emitted before the bot was created (the host kept them since the engine opened):
   * a reply a dead process left may end as soon as this process adopts its run (handoff.ts).
   */
  earlier?: readonly SwitchboardEvent[];
}

export interface SlackBot {
  app: App;
  installations: Installations;
  clients: SlackClients;
  cards: CardKeeper;
  /** The `/slack/events` route (HTTP mode). */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when every reply and card job started so far is done (tests, shutdown). */
  idle(): Promise<void>;
}

export function createSlackBot(opts: SlackBotOptions): SlackBot {
  const { engine, settings, logger } = opts;
  // Web API calls go to the configured base; its host serves files too when it is not slack.com (proxies, tests).
  const fileHosts = settings.apiUrl ? [...settings.fileHosts, new URL(settings.apiUrl).host] : settings.fileHosts;
  const authTest = (token: string) => new WebClient(token, { logger: slackLogger(logger), ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {}) }).auth.test();
  const installations = new Installations(settings, authTest, logger);
  const clients = createClients(installations, { ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}), retries: settings.retries, updatesPerMinute: settings.updatesPerMinute, statusesPerMinute: settings.statusesPerMinute, streamsPerMinute: settings.streamsPerMinute, logger });
  const cards = new CardKeeper({ engine, clients, logger });
  const socket = settings.mode === 'socket' ? new HeldAckSocketReceiver({ appToken: settings.appToken!, ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}), logger }) : null;
  const http = settings.mode === 'http' ? httpReceiver(settings.signingSecret!, logger) : null;
  const app = new App({
    receiver: (socket ?? http)!,
    logger: slackLogger(logger),
    clientOptions: settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {},
    authorize: async ({ teamId }) => {
      const inst = installations.get(teamId ?? '');
      return { botToken: inst.botToken, botId: inst.botId, botUserId: inst.botUserId, teamId: inst.teamId };
    },
  });
  const work = new Set<Promise<unknown>>();
  let offHandoff: (() => void) | null = null;
  const shutdown = new AbortController();
  // Every reply in flight follows its run with this signal: far more than Node's default of 10 listeners.
  setMaxListeners(0, shutdown.signal);
  const track = (p: Promise<unknown>) => {
    const t = p.catch((err: unknown) => logger.warn('Slack background work failed', { error: err })).finally(() => work.delete(t));
    work.add(t);
  };
  const deps = { engine, clients, logger };
  const replyDeps = { ...deps, flushMs: settings.flushMs, statusRefreshMs: settings.statusRefreshMs, beatMs: settings.replyBeatMs };
  const handoff = new Handoff(deps, 3 * settings.replyBeatMs, track);

  const inFlight = new InFlight();
  const intakeDeps = { engine, logger, botToken: (t: string) => installations.get(t).botToken, fileHosts, maxImageBytes: opts.maxImageBytes ?? 10 * 1024 * 1024, known: new Set<string>() };
  const onMessage = async (team: string, event: MessageLike) => {
    if (!installations.has(team)) return;
    const m = classify(team, event, installations.get(team).botUserId);
    if (!m) return;
    const r = await inFlight.run(slackKey(team, m.channel, m.ts), () => intake(intakeDeps, m));
    // The message is in the store now; the reply streams after the ack.
    if (!r?.drive) return;
    const target = { team, channel: m.channel, threadTs: m.threadTs, user: m.user, title: preview(m.text || 'Image', 80) };
    track(r.claim().then((mine) => (mine ? driveReply(replyDeps, r.run, target, shutdown.signal) : undefined)));
  };
  app.event('app_mention', async ({ event, body }) => onMessage(body.team_id, event as unknown as MessageLike));
  app.event('message', async ({ event, body }) => onMessage(body.team_id, event as unknown as MessageLike));

  // The agent view: suggested prompts when a person opens the app's Messages tab (no thread_ts for agent apps).
  app.event('app_home_opened', async ({ event, body }) => {
    if (event.tab !== 'messages' || !installations.has(body.team_id)) return;
    // On the client that never waits on a 429: a throttled prompt is skipped, it does not pause the replies' queue.
    await clients.interactive(body.team_id).assistant.threads.setSuggestedPrompts({ channel_id: event.channel, title: 'Try asking', prompts: settings.suggestedPrompts });
  });
  app.event('agent_session_stopped' as never, async ({ event, body }: { event: { channel: string; thread_ts: string; user: string }; body: { team_id: string } }) => {
    track(stopSession(deps, body.team_id, event));
  });
  // Only a revoked bot token stops the bot; user tokens (oauth) revoked in the same workspace do not.
  app.event('tokens_revoked', async ({ event, body }) => {
    if (!installations.has(body.team_id)) return;
    const bots = event.tokens.bot ?? [];
    const mine = installations.get(body.team_id).botUserId;
    if (mine ? bots.includes(mine) : bots.length > 0) installations.remove(body.team_id, 'bot token revoked');
  });
  app.event('app_uninstalled', async ({ body }) => installations.remove(body.team_id, 'app uninstalled'));

  const clickOf = (body: Record<string, unknown>, value: string): Click => {
    const b = body as { team?: { id: string }; user: { id: string; team_id?: string }; channel?: { id: string }; message?: { ts: string; thread_ts?: string }; trigger_id: string };
    return {
      team: b.team?.id ?? b.user.team_id ?? '',
      user: b.user.id,
      approvalId: value,
      ...(b.channel ? { channel: b.channel.id } : {}),
      ...(b.message ? { messageTs: b.message.ts, ...(b.message.thread_ts ? { threadTs: b.message.thread_ts } : {}) } : {}),
      triggerId: b.trigger_id,
    };
  };
  const valueOf = (action: unknown) => String((action as { value?: string }).value ?? '');
  app.action(ACTIONS.approve, async ({ ack, body, action }) => {
    await ack();
    const click = clickOf(body as never, valueOf(action));
    const verdict = await decideClick(deps, click, { approve: true });
    if (!verdict.ok) await tellClicker(deps, click, verdict.message);
  });
  // A modal Slack would not open (rate limited, or the 3-second trigger expired) is said to the clicker, not swallowed.
  const modal = (open: (d: typeof deps, click: Click) => Promise<void>) =>
    async ({ ack, body, action }: { ack: () => Promise<void>; body: unknown; action: unknown }) => {
      await ack();
      const click = clickOf(body as never, valueOf(action));
      try {
        await open(deps, click);
      } catch (err) {
        logger.warn('Slack modal not opened', { approvalId: click.approvalId, error: err });
        await tellClicker(deps, click, `Slack did not open the form (${whatSlackSaid(err)}); nothing was decided. Click the button again.`);
      }
    };
  app.action(ACTIONS.reject, modal(openReject));
  app.action(ACTIONS.edit, modal(openEdit));
  app.action(ACTIONS.view, modal(openFullText));
  // Feedback on a reply: logged with its run, for whoever tunes the agents.
  app.action(ACTIONS.feedback, async ({ ack, body, action }) => {
    await ack();
    const [runId, verdict] = valueOf(action).split(':');
    logger.info('Slack reply feedback', { runId, verdict, user: (body as { user?: { id?: string } }).user?.id });
  });
  for (const kind of ['reject', 'edit'] as const) {
    app.view(MODALS[kind], async ({ ack, body, view }) => {
      const r = await submitModal(deps, kind, body.team?.id ?? body.user.team_id ?? '', body.user.id, view.private_metadata, view.state.values as never);
      await ack(r.errors ? { response_action: 'errors', errors: r.errors } : undefined);
    });
  }
  app.command('/switchboard', async ({ ack, command, respond }) => {
    const [verb, ...rest] = command.text.trim().split(/\s+/);
    const goal = rest.join(' ').trim();
    if (verb !== 'plan' || !goal) return void (await ack({ response_type: 'ephemeral', text: 'Usage: `/switchboard plan <goal>` — the planner breaks the goal into steps you approve one by one.' }));
    await ack();
    track(
      startPlanCommand(deps, cards, { team: command.team_id, channel: command.channel_id, user: command.user_id, goal }).catch(async (err: unknown) => {
        logger.warn('Slack plan command failed', { error: err });
        // Through the command's response_url: it works where the bot cannot post (not invited to the channel).
        const said = whatSlackSaid(err);
        const why = said === 'not_in_channel' ? 'the bot is not in this channel: invite it (`/invite @switchboard`) and try again' : said;
        await respond({ response_type: 'ephemeral', text: `The plan could not start: ${why}.` });
      }),
    );
  });
  app.error(async (err) => logger.warn('Slack listener failed', { error: err }));

  return {
    app,
    installations,
    clients,
    cards,
    handle: (req, res) => {
      if (!http) throw new Error('The Slack bot runs in Socket Mode; it has no HTTP route.');
      http.handle(req, res);
    },
    async start() {
      // Replies a stopped or dead process left: the rest is posted when their runs end (any replica).
      // Listening starts before anything is awaited; run ends seen meanwhile wait for the workspaces.
      const waiting: SwitchboardEvent[] = [...(opts.earlier ?? [])];
      let ready = false;
      offHandoff = engine.on('*', (e) => {
        if (ready) handoff.onEvent(e);
        else if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') waiting.push(e);
      });
      await installations.init();
      cards.start((id, listener) => engine.on(id, listener));
      ready = true;
      for (const e of waiting.splice(0)) handoff.onEvent(e);
      if (socket) await socket.start();
    },
    async stop() {
      shutdown.abort();
      cards.stop();
      offHandoff?.();
      handoff.stop();
      if (socket) await socket.stop();
      // Replies end their streams and let go (handoff.ts) with the calls their budgets have room for now;
      // a call that would wait for room is dropped (the text so far stands, the rest is posted when the run
      // ends): waiting would hold the shutdown for as long as the budget needs (minutes, with many queued).
      clients.stopWaiting();
      await Promise.allSettled([...work]);
      clients.close();
    },
    async idle() {
      while (work.size > 0) await Promise.allSettled([...work]);
      await cards.idle();
      await clients.drained();
    },
  };
}
