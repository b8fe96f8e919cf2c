/**
 * The Slack bot on the real engine: a fake model server, a SQLite file in a temp folder, the fake Slack,
 * and the bot mounted at /slack/events on the same node:http host `switchboard serve` uses (or over
 * Socket Mode). `restart()` closes bot and engine and opens both again on the same database, as a new
 * process would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSwitchboard, silentLogger, type ConfigInput, type Switchboard } from '../../src/index.js';
import { createSlackBot, slackSettings, type SlackBot } from '../../src/bots/slack/index.js';
import { listenHttp, type HttpHost } from '../../src/mcp/http.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from './fake-openai.js';
import { DEFAULT_TEAM, eventEnvelope, startFakeSlack, type FakeSlack, type FakeTeam } from './fake-slack.js';

export interface SlackHarness {
  sb: Switchboard;
  dir: string;
  bot: SlackBot;
  slack: FakeSlack;
  model: FakeOpenAI;
  /** The app's request URL (HTTP mode). */
  url: string;
  /** A person's message as Slack delivers it: `app_mention` (when it mentions the bot in a channel) and/or `message`. */
  say(m: SayOptions): Promise<{ ts: string; statuses: number[] }>;
  /** A click on a card button, as Slack POSTs it. */
  click(action: 'sb_approve' | 'sb_reject' | 'sb_edit' | 'sb_view', approvalId: string, by: { team?: string; user: string; channel?: string; messageTs?: string; threadTs?: string }): Promise<{ status: number }>;
  /** A modal submission; resolves with the app's answer (field errors, or none). */
  submit(callbackId: string, privateMetadata: string, text: string, by: { team?: string; user: string }): Promise<{ status: number; body: unknown }>;
  /** Everything the bot started is done (replies streamed, cards placed). */
  idle(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface SayOptions {
  team?: string;
  user: string;
  text: string;
  channel?: string;
  ts?: string;
  threadTs?: string;
  /** Deliver the `app_mention` (default: when the text mentions the bot and the channel is not a DM). */
  mention?: boolean;
  /** Deliver the `message` twin too (default true). */
  message?: boolean;
  files?: unknown[];
  eventId?: string;
  retryNum?: number;
}

let tsSeq = 0;
export const nextTs = () => `17000${String(++tsSeq).padStart(5, '0')}.000100`;

export interface SlackHarnessOptions {
  config?: ConfigInput;
  model?: FakeOpenAIOptions;
  teams?: FakeTeam[];
  mode?: 'http' | 'socket';
  section?: Record<string, unknown>;
  /** A second replica: the same database, fake Slack and model as `replicaOf`, its own engine, bot and port. */
  replicaOf?: SlackHarness;
}

export async function startSlackHarness(opts: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const shared = opts.replicaOf;
  const model = shared?.model ?? (await startFakeOpenAI(opts.model));
  const slack = shared?.slack ?? (await startFakeSlack({ teams: opts.teams ?? [DEFAULT_TEAM] }));
  const dir = shared?.dir ?? mkdtempSync(join(tmpdir(), 'sb-slack-'));
  const mode = opts.mode ?? 'http';
  const teams = slack.teams;
  const section = {
    signingSecret: slack.signingSecret,
    appToken: slack.appToken,
    apiUrl: slack.apiUrl,
    workspaces: Object.fromEntries(teams.map((t) => [t.id, { botToken: t.botToken }])),
    flushMs: 60_000,
    ...opts.section,
  };
  let sb!: Switchboard;
  let bot!: SlackBot;
  let host: HttpHost | null = null;
  const open = async () => {
    sb = await createSwitchboard({
      config: {
        ...opts.config,
        // .ci/run sets this where bubblewrap cannot work, so run_code still runs (unsandboxed) here.
        ...(process.env.SWITCHBOARD_TEST_SANDBOX === 'none' && !opts.config?.sandbox ? { sandbox: { type: 'none' as const } } : {}),
        store: { type: 'sqlite', path: join(dir, 'switchboard.db') }, workspaceDir: join(dir, 'workspaces'), limits: { modelRetries: 1, ...opts.config?.limits } },
      env: { OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'sk-test-secret-key' },
      cwd: dir,
      logger: silentLogger,
      engine: { pollMs: 20 },
    });
    bot = createSlackBot({ engine: sb, settings: slackSettings(section, {}, mode), logger: silentLogger });
    await bot.start();
    if (mode === 'http') host = await listenHttp({ host: '127.0.0.1', port: host?.port ?? 0, logger: silentLogger, routes: { '/slack/events': bot.handle } });
  };
  const shut = async () => {
    await bot.stop();
    await host?.close();
    await sb.close();
  };
  await open();
  const url = () => `${host?.url ?? ''}/slack/events`;

  const deliver = async (body: Record<string, unknown>, retryNum?: number) => {
    if (mode === 'socket') {
      await slack.socket.send('events_api', body, { retryAttempt: retryNum });
      return 200;
    }
    return (await slack.postEvent(url(), body, { ...(retryNum ? { retryNum } : {}) })).status;
  };

  const harness: SlackHarness = {
    get sb() {
      return sb;
    },
    get bot() {
      return bot;
    },
    slack,
    model,
    dir,
    get url() {
      return url();
    },
    async say(m) {
      const team = m.team ?? teams[0]!.id;
      const bot = teams.find((t) => t.id === team)!;
      const channel = m.channel ?? 'C1';
      const ts = m.ts ?? nextTs();
      const direct = channel.startsWith('D');
      const base = { user: m.user, text: m.text, ts, channel, channel_type: direct ? 'im' : 'channel', ...(m.threadTs ? { thread_ts: m.threadTs } : {}), ...(m.files ? { files: m.files, subtype: 'file_share' } : {}) };
      const statuses: number[] = [];
      const mention = m.mention ?? (!direct && m.text.includes(`<@${bot.botUserId}>`));
      if (mention) statuses.push(await deliver(eventEnvelope(team, { type: 'app_mention', ...base }, m.eventId), m.retryNum));
      if (m.message ?? true) statuses.push(await deliver(eventEnvelope(team, { type: 'message', ...base }, m.eventId ? `${m.eventId}-msg` : undefined), m.retryNum));
      return { ts, statuses };
    },
    async click(action, approvalId, by) {
      const team = by.team ?? teams[0]!.id;
      const payload = {
        type: 'block_actions',
        team: { id: team, domain: 'fake' },
        user: { id: by.user, team_id: team },
        api_app_id: 'A1',
        trigger_id: `trig-${Math.random().toString(36).slice(2)}`,
        channel: { id: by.channel ?? 'C1' },
        ...(by.messageTs ? { message: { ts: by.messageTs, ...(by.threadTs ? { thread_ts: by.threadTs } : {}) } } : {}),
        container: { type: 'message' },
        actions: [{ type: 'button', action_id: action, block_id: `approval:${approvalId}`, value: approvalId, action_ts: '1' }],
      };
      if (mode === 'socket') {
        await slack.socket.send('interactive', payload);
        return { status: 200 };
      }
      return slack.postInteraction(url(), payload);
    },
    async submit(callbackId, privateMetadata, text, by) {
      const team = by.team ?? teams[0]!.id;
      const payload = {
        type: 'view_submission',
        team: { id: team },
        user: { id: by.user, team_id: team },
        api_app_id: 'A1',
        view: { id: 'V1', type: 'modal', callback_id: callbackId, private_metadata: privateMetadata, state: { values: { decision: { value: { type: 'plain_text_input', value: text } } } } },
      };
      const r = await slack.postInteraction(url(), payload);
      return { status: r.status, body: r.text ? JSON.parse(r.text) : null };
    },
    idle: () => bot.idle(),
    async restart() {
      await shut();
      await open();
    },
    async close() {
      await shut();
      if (shared) return;
      await slack.close();
      await model.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}
