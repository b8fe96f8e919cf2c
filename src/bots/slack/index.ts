/**
 * The Slack bot's entry: what `switchboard serve` and `switchboard slack` load (lazily, so commands
 * that do not use Slack never load Bolt).
 */
export { createSlackBot, type SlackBot, type SlackBotOptions } from './app.js';
export { slackSettings, slackSettingsFromConfig, slackConfigured, SlackSectionSchema, type SlackSettings } from './config.js';
export type { SlackEngine } from './engine.js';
