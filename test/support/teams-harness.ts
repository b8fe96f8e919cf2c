/**
 * The real engine (fake model server, SQLite file) + the Teams bot on a real HTTP server + the fake
 * Teams channel. `restart()` closes bot and engine and opens both again on the same database file,
 * as a redeploy would; the fake channel (and the cards it holds) stays.
 */
import { createTeamsBot, type TeamsBot } from '../../src/bots/teams/index.js';
import { teamsSettings, type TeamsSection } from '../../src/bots/teams/config.js';
import { listenHttp, type HttpHost } from '../../src/mcp/http.js';
import { createSwitchboard, describeEvent, preview, silentLogger, type ConfigInput, type Switchboard } from '../../src/index.js';
import type { FakeOpenAIOptions } from './fake-openai.js';
import { startFakeTeams, type FakeTeams, FakeTokenCredentialsFactory } from './fake-teams.js';
import { startHarness, type Harness } from './switchboard.js';
import type { Clock } from '../../src/bots/teams/limits.js';

export interface TeamsHarness {
  h: Harness;
  sb: Switchboard;
  teams: FakeTeams;
  bot: TeamsBot;
  http: HttpHost;
  /** Waits until every reply, welcome and card edit the bot started has been sent. */
  idle(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTeamsHarness(opts: { config?: ConfigInput; fake?: FakeOpenAIOptions; teams?: Partial<TeamsSection>; appId?: string; clock?: Clock } = {}): Promise<TeamsHarness> {
  const h = await startHarness({ ...(opts.config ? { config: opts.config } : {}), ...(opts.fake ? { fake: opts.fake } : {}) });
  const teams = await startFakeTeams(opts.appId ? { appId: opts.appId } : {});
  const section = {
    ...(opts.appId ? { appId: opts.appId, appPassword: 'secret', tenantId: teams.tenantId, auth: { openIdMetadataUrl: teams.openIdMetadataUrl, tokenIssuer: teams.issuer } } : {}),
    ...opts.teams,
  };
  let sb: Switchboard = h.sb;
  const mount = async (engine: Switchboard) => {
    const bot = createTeamsBot({
      settings: teamsSettings(section, {})!,
      engine,
      helpers: { describeEvent, preview },
      logger: silentLogger,
      bindHost: '127.0.0.1',
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.appId ? { credentialsFactory: new FakeTokenCredentialsFactory(teams, opts.appId) } : {}),
    });
    const http = await listenHttp({ host: '127.0.0.1', port: 0, logger: silentLogger, routes: { '/api/messages': bot.route } });
    teams.botEndpoint = `${http.url}/api/messages`;
    return { bot, http };
  };
  let mounted = await mount(sb);
  const harness: TeamsHarness = {
    h,
    get sb() {
      return sb;
    },
    teams,
    get bot() {
      return mounted.bot;
    },
    get http() {
      return mounted.http;
    },
    idle: () => mounted.bot.idle(),
    async restart() {
      await mounted.bot.close();
      await mounted.http.close();
      await sb.close();
      sb = await createSwitchboard({ config: sb.config, env: { OPENAI_BASE_URL: h.fake.url, OPENAI_API_KEY: 'sk-test-secret-key' }, cwd: h.dir, engine: { pollMs: 20 } } as never);
      mounted = await mount(sb);
    },
    async close() {
      await mounted.bot.close();
      await mounted.http.close();
      if (sb !== h.sb) await sb.close().catch(() => undefined);
      await h.close().catch(() => undefined);
      await teams.close();
    },
  };
  return harness;
}

/** The Adaptive Card in a recorded connector call, if it carries one. */
export function cardOf(body: Record<string, unknown>): Record<string, unknown> | null {
  const a = (body.attachments as { contentType: string; content: Record<string, unknown> }[] | undefined)?.find((x) => x.contentType === 'application/vnd.microsoft.card.adaptive');
  return a?.content ?? null;
}

/** Every TextBlock text in a card, joined (for readable assertions). */
export function cardText(card: unknown): string {
  const out: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (o.type === 'TextBlock' && typeof o.text === 'string') out.push(o.text);
      for (const [k, v] of Object.entries(o)) if (k !== 'text') walk(v);
    }
  };
  walk(card);
  return out.join('\n');
}

/** Verbs of the Action.Execute buttons on a card (including those inside ShowCards). */
export function verbsOf(card: unknown): string[] {
  const out: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (o.type === 'Action.Execute' && typeof o.verb === 'string' && o.verb !== 'refresh') out.push(o.verb);
      for (const [k, v] of Object.entries(o)) if (k !== 'refresh') walk(v);
    }
  };
  walk(card);
  return out;
}

/** "POST typing informative" — one line per connector call, for readable order assertions and the report. */
export function callLine(c: { method: string; body: Record<string, unknown>; status: number }): string {
  const cd = c.body.channelData as { streamType?: string } | undefined;
  const card = cardOf(c.body) ? ' card' : '';
  const att = (c.body.attachments as unknown[] | undefined)?.length && !card ? ' +attachment' : '';
  return `${c.method === 'PUT' ? 'update' : 'send'} ${String(c.body.type)}${cd?.streamType ? ` ${cd.streamType}` : ''}${card}${att}${c.status !== 200 ? ` → ${c.status}` : ''}`;
}
