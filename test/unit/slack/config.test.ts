/**
 * Slack settings: a `slack:` config section (checked by the bot, errors by path), the environment on
 * top, and what each mode needs said in words.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, silentLogger } from '../../../src/index.js';
import { Installations } from '../../../src/bots/slack/installations.js';
import { slackConfigured, slackSettingsFromConfig } from '../../../src/bots/slack/index.js';

describe('Slack settings', () => {
  it('reads the slack: section, with the environment winning', () => {
    const config = parseConfig({ slack: { botToken: 'xoxb-from-config', signingSecret: 'config-secret', workspaces: { T2: { botToken: 'xoxb-two' } }, updatesPerMinute: 30 } });
    expect(slackConfigured(config, {})).toBe(true);
    const s = slackSettingsFromConfig(config, { SLACK_BOT_TOKEN: 'xoxb-from-env', SLACK_API_URL: 'http://127.0.0.1:9/api/' }, 'http');
    expect(s).toMatchObject({ botToken: 'xoxb-from-env', signingSecret: 'config-secret', apiUrl: 'http://127.0.0.1:9/api/', updatesPerMinute: 30, workspaces: { T2: { botToken: 'xoxb-two' } }, mode: 'http' });
  });

  it('names what is wrong or missing', () => {
    expect(() => slackSettingsFromConfig(parseConfig({ slack: { botToken: 'not-a-bot-token' } }), {}, 'http')).toThrow(/slack\.botToken/);
    expect(() => slackSettingsFromConfig(parseConfig({}), { SLACK_BOT_TOKEN: 'xoxb-1' }, 'http')).toThrow(ConfigError);
    expect(() => slackSettingsFromConfig(parseConfig({}), { SLACK_BOT_TOKEN: 'xoxb-1' }, 'http')).toThrow(/SLACK_SIGNING_SECRET/);
    expect(() => slackSettingsFromConfig(parseConfig({}), { SLACK_BOT_TOKEN: 'xoxb-1' }, 'socket')).toThrow(/SLACK_APP_TOKEN/);
    expect(() => slackSettingsFromConfig(parseConfig({}), {}, 'socket')).toThrow(/SLACK_BOT_TOKEN/);
    expect(slackConfigured(parseConfig({}), { SLACK_BOT_TOKEN: 'xoxb-1' })).toBe(false);
  });
});

describe('Slack workspaces', () => {
  it('skips a workspace whose token Slack refuses, and fails only when none is left', async () => {
    const authTest = async (token: string) => {
      if (token === 'xoxb-good') return { team_id: 'T1', user_id: 'UBOT1', bot_id: 'B1' };
      throw new Error('invalid_auth');
    };
    const some = new Installations({ botToken: 'xoxb-good', workspaces: { T2: { botToken: 'xoxb-revoked' } } }, authTest, silentLogger);
    await some.init();
    expect(some.teams()).toEqual(['T1']);
    expect(some.get('T1')).toMatchObject({ botUserId: 'UBOT1', botId: 'B1' });
    const none = new Installations({ workspaces: { T2: { botToken: 'xoxb-revoked' } } }, authTest, silentLogger);
    await expect(none.init()).rejects.toThrow(/No Slack workspace accepted its bot token/);
  });
});
