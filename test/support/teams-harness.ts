/**
 * The real engine (fake model server, SQLite file) + the Teams bot on a real HTTP server + the fake
 * Teams channel. `restart()` closes bot and engine and opens both again on the same database file,
 * as a redeploy would; the fake channel (and the cards it holds) stays.
 */
import { createTeamsBot, type TeamsBot } from '../../src/bots/teams/index.js';
import { teamsSettings, type TeamsSection } from '../../src/bots/teams/config.js';
import { listenHttp, type HttpHost } from '../../src/mcp/http.js';
import { createSwitchboard, describeEvent, preview, silentLogger, type ConfigInput, type Switchboard } from '../../src/index.js';
import { scriptByAgent, type FakeHandler, type FakeOpenAIOptions } from './fake-openai.js';
import { plannerReply } from './plans.js';
import { delegate } from './replies.js';
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
  /** A second replica: its own engine on the same database and its own bot and port (post to `endpoint`). */
  replica(): Promise<{ sb: Switchboard; bot: TeamsBot; endpoint: string; close(): Promise<void> }>;
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
  const reopen = () => createSwitchboard({ config: sb.config, env: { OPENAI_BASE_URL: h.fake.url, OPENAI_API_KEY: 'sk-test-secret-key' }, cwd: h.dir, engine: { pollMs: 20 } } as never);
  const replicas: (() => Promise<void>)[] = [];
  const mount = async (engine: Switchboard, endpoint = true) => {
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
    if (endpoint) teams.botEndpoint = `${http.url}/api/messages`;
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
      sb = await reopen();
      mounted = await mount(sb);
    },
    async replica() {
      const other = await reopen();
      const m = await mount(other, false);
      const close = async () => {
        await m.bot.close();
        await m.http.close();
        await other.close().catch(() => undefined);
      };
      replicas.push(close);
      return { sb: other, bot: m.bot, endpoint: `${m.http.url}/api/messages`, close };
    },
    async close() {
      for (const r of replicas.splice(0)) await r();
      await mounted.bot.close();
      await mounted.http.close();
      if (sb !== h.sb) await sb.close().catch(() => undefined);
      await h.close().catch(() => undefined);
      await teams.close();
    },
  };
  return harness;
}

export { cardOf, cardText, verbsOf, callLine } from './teams-harness-views.js';

/** The proxy asks code_agent for 6*7; code_agent's run_code waits for an approval; then "The answer is 42." */
export const runCodeScript = (): FakeHandler =>
  scriptByAgent({
    proxy: [delegate('code_agent', 'compute 6*7'), { content: 'The answer is 42.' }],
    code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] }, { content: '42' }],
  });

/** A two-step plan (code_agent writes the notes, vision_agent checks the screenshot) and the proxy's summary. */
export const twoStepPlanScript = (summary = 'Release notes written and the screenshot checked.'): FakeHandler =>
  scriptByAgent({
    planner: [plannerReply(['code_agent', 'write the notes'], ['vision_agent', 'check the screenshot'])],
    code_agent: [{ content: 'notes written' }],
    vision_agent: [{ content: 'screenshot fine' }],
    proxy: [{ content: summary }],
  });
