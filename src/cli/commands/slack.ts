import { createLogger, createSwitchboard, type LogLevel } from '../../index.js';
import { CliError, loadConfig, parse } from '../common.js';

const HELP = `Usage: switchboard slack --socket [--config FILE]

Runs the Slack bot over Socket Mode (no public URL needed): a mention or a message to the bot starts
a conversation with the team of agents in its thread. Needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN
(xapp-…, with connections:write), or a slack: section in the config. SLACK_API_URL changes the Web API
base (proxies, tests). Over HTTP instead, \`switchboard serve\` mounts /slack/events when SLACK_BOT_TOKEN
and SLACK_SIGNING_SECRET are set.`;

export default async function slack(argv: string[]): Promise<number> {
  const { values } = parse('slack', argv, { socket: { type: 'boolean' } }, false);
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!values.socket) throw new CliError('switchboard slack runs over Socket Mode: add --socket (or use `switchboard serve` for the HTTP request URL).', 2);
  const env = process.env;
  const config = loadConfig(values.config, env);
  const logger = createLogger({ level: (env.SWITCHBOARD_LOG_LEVEL as LogLevel | undefined) ?? 'info', name: 'slack' });
  const { createSlackBot, slackSettingsFromConfig } = await import('../../bots/slack/index.js');
  const settings = slackSettingsFromConfig(config, env, 'socket');
  const sb = await createSwitchboard({ config, env, logger });
  const bot = createSlackBot({ engine: sb, settings, logger });
  await bot.start();
  process.stderr.write(`switchboard: Slack bot connected over Socket Mode (workspaces: ${bot.installations.teams().join(', ')})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await bot.stop();
  await sb.close();
  return 0;
}
