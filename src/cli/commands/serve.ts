import type http from 'node:http';
import { checkProviders, createLogger, createSwitchboard, describeEvent, preview, type Config, type Logger, type LogLevel, type Switchboard, type SwitchboardEvent } from '../../index.js';

const RUN_ENDS = new Set(['run.completed', 'run.failed', 'run.cancelled']);
import { CliError, loadConfig, parse } from '../common.js';

const HELP = `Usage: switchboard serve [--host 127.0.0.1] [--port 3939] [--allowed-host NAME]... [--allowed-origin URL]... [--config FILE]

One HTTP server for the remote faces of Switchboard:
  /mcp           MCP Streamable HTTP (every specialist an ask_<agent> tool, ask_team, get_run, ...)
  /api/messages  the Microsoft Teams bot, when Teams is configured (TEAMS_APP_ID, TEAMS_APP_PASSWORD,
                 TEAMS_TENANT_ID or a teams: section; SWITCHBOARD_TEAMS=anonymous: local try, loopback only)
  /slack/events  the Slack bot's request URL (Events API, interactivity, slash command), when
                 SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or a slack: section) are set (README, Slack)
  /healthz       liveness: {"status":"ok"}

Binds 127.0.0.1 by default; Host and Origin headers are checked against DNS rebinding. Binding any
other address needs bearer tokens in the config (mcp.tokens: principal id -> token); requests
without a valid "Authorization: Bearer <token>" get 401. --port 0 picks a free port.
--allowed-host adds a Host name (e.g. the name a reverse proxy forwards) to the accepted ones.`;

const DEFAULT_PORT = 3939;

export default async function serve(argv: string[]): Promise<number> {
  const { values } = parse(
    'serve',
    argv,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      'allowed-host': { type: 'string', multiple: true },
      'allowed-origin': { type: 'string', multiple: true },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const host = values.host ?? '127.0.0.1';
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a number from 0 to 65535 (got "${values.port}").`, 2);

  const env = process.env;
  const config = loadConfig(values.config, env);
  const logger = createLogger({ level: (env.SWITCHBOARD_LOG_LEVEL as LogLevel | undefined) ?? 'info', name: 'serve' });
  const mcp = await import('../../mcp/index.js');
  const { agents, catalog, plans, settings } = mcp.describeDeployment(config);
  const problem = checkProviders(config, env);
  if (problem) logger.warn(`no model provider yet; tool calls will fail until it is set: ${problem}`);

  // The handler checks the bind address and tokens first (nothing is opened if they do not fit).
  const engine = mcp.lazy(() => createSwitchboard({ config, env, logger }));
  const mcpHandler = mcp.createMcpHttpHandler({
    bindHost: host,
    allowedHosts: values['allowed-host'],
    allowedOrigins: values['allowed-origin'],
    deps: { config, agents, catalog, plans, env, logger, switchboard: engine.get, progressIntervalMs: mcp.progressIntervalFrom(env), askTimeoutMs: settings.askTimeoutMs },
  });
  // Opened now, not on the first call: runs and plans a previous process left are resumed at once.
  const sb = await engine.get();
  // Runs that end before the Slack bot is up (Bolt loads lazily) are kept for it: a reply a dead process
  // left may end as soon as this process adopts its run.
  const early: SwitchboardEvent[] = [];
  const offEarly = sb.on('*', (e) => void (RUN_ENDS.has(e.type) && early.push(e)));
  const healthz = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const ok = req.method === 'GET' || req.method === 'HEAD';
    res.writeHead(ok ? 200 : 405, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(ok ? JSON.stringify({ status: 'ok', agents: agents.names().length, mcpSessions: mcpHandler.sessionCount() }) : '{"error":"GET only"}');
  };
  // Microsoft Teams, when configured; botbuilder is loaded only then.
  const teamsConfig = (await import('../../bots/teams/config.js')).teamsFromConfig(config, env);
  const teams = teamsConfig
    ? (await import('../../bots/teams/index.js')).createTeamsBot({ settings: teamsConfig, engine: sb, helpers: { describeEvent, preview }, logger, bindHost: host, maxImageBytes: config.limits.maxImageBytes })
    : null;
  const routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>> = { '/mcp': mcpHandler.handle, '/healthz': healthz, ...(teams ? { '/api/messages': teams.route } : {}) };
  const slack = await mountSlack(config, env, sb, logger, routes, early);
  offEarly();
  const server = await mcp.listenHttp({ host, port, logger, routes });
  process.stderr.write(`switchboard: serving MCP at ${server.url}/mcp (health: ${server.url}/healthz)${slack ? `, Slack at ${server.url}/slack/events` : ''}\n`);
  if (teams) process.stderr.write(`switchboard: Teams bot at ${server.url}/api/messages (${teamsConfig!.mode === 'anonymous' ? 'anonymous: local development only' : `app ${teamsConfig!.appId}, ${teamsConfig!.appType}`})\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await mcpHandler.close();
  await slack?.stop();
  await teams?.close();
  await server.close();
  await sb.close();
  return 0;
}

/** The Slack bot on the same server, when configured (environment or `slack:` section); Bolt is loaded only then. */
async function mountSlack(config: Config, env: NodeJS.ProcessEnv, sb: Switchboard, logger: Logger, routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>, earlier: SwitchboardEvent[]) {
  const { slackConfigured } = await import('../../bots/slack/config.js');
  if (!slackConfigured(config, env)) return null;
  const slackModule = await import('../../bots/slack/index.js');
  const bot = slackModule.createSlackBot({ engine: sb, settings: slackModule.slackSettingsFromConfig(config, env, 'http'), logger, earlier });
  await bot.start();
  routes['/slack/events'] = bot.handle;
  return bot;
}
