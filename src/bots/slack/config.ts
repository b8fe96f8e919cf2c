/**
 * The Slack bot's settings: from the environment (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN,
 * SLACK_API_URL) and/or a `slack:` config section, validated with zod at this boundary.
 */
import { z } from 'zod';
import { adapterSection, ConfigError, type Config } from '../../index.js';

const Prompt = z.strictObject({ title: z.string().min(1).max(75), message: z.string().min(1).max(1_000) });

export const SlackSectionSchema = z.strictObject({
  /** One workspace's bot token (xoxb-…); more workspaces go in `workspaces`. */
  botToken: z.string().startsWith('xoxb-').optional(),
  signingSecret: z.string().min(8).optional(),
  /** App-level token (xapp-…) for Socket Mode. */
  appToken: z.string().startsWith('xapp-').optional(),
  /** Web API base, for proxies and tests (default https://slack.com/api/). */
  apiUrl: z.url().optional(),
  /** Bot tokens of further workspaces, by team id. */
  workspaces: z.record(z.string().regex(/^[TE][A-Z0-9]+$/), z.strictObject({ botToken: z.string().startsWith('xoxb-') })).default({}),
  /** Hosts a file's url_private may name; the bot token is sent to no other. */
  fileHosts: z.array(z.string().min(1)).default(['files.slack.com']),
  /** chat.update calls per minute per workspace, across all conversations (Slack's Tier 3 is ~50). */
  updatesPerMinute: z.number().int().positive().default(45),
  /** Status calls (thread status lines and agent session states) per minute per workspace; a newer status of a thread replaces one still waiting. */
  statusesPerMinute: z.number().int().positive().default(90),
  /**
   * Streaming calls per minute per workspace, per method, inside Slack's tiers: chat.startStream and
   * chat.stopStream are Tier 2 (20+ a minute), chat.appendStream Tier 4 (100+ a minute). Starts beyond
   * the budget wait (in order, none lost); text arriving meanwhile joins the waiting append.
   */
  streamsPerMinute: z.strictObject({ start: z.number().int().positive(), append: z.number().int().positive(), stop: z.number().int().positive() }).default({ start: 20, append: 100, stop: 20 }),
  /** How often buffered reply text is flushed into the stream. */
  flushMs: z.number().int().positive().default(800),
  /** Slack clears a thread status after two minutes: it is set again this often while agents work. */
  statusRefreshMs: z.number().int().positive().default(90_000),
  /**
   * How often a process driving a reply says it is alive (in the run's reference). A reply whose driver
   * went silent for three beats (the process died) is finished by whichever process sees its run end.
   */
  replyBeatMs: z.number().int().positive().default(20_000),
  /** Retries of ordinary Web API calls (not interactive ones, which never wait on a 429). */
  retries: z.number().int().min(0).max(10).default(4),
  suggestedPrompts: z.array(Prompt).max(4).default([
    { title: 'What can the team do?', message: 'Which agents are on the team, and what can each of them do?' },
    { title: 'Plan a task', message: 'Make a plan for: ' },
    { title: 'Describe an image', message: 'What is in this image?' },
  ]),
});
export type SlackSection = z.output<typeof SlackSectionSchema>;

export interface SlackSettings extends SlackSection {
  /** Team id -> bot token (from botToken once auth.test named its team, and from `workspaces`). */
  mode: 'http' | 'socket';
}

/** Settings from a raw `slack:` section (optional) and the environment, which wins. */
export function slackSettings(section: unknown, env: NodeJS.ProcessEnv, mode: 'http' | 'socket'): SlackSettings {
  const merged = {
    ...(section && typeof section === 'object' ? (section as Record<string, unknown>) : {}),
    ...(env.SLACK_BOT_TOKEN ? { botToken: env.SLACK_BOT_TOKEN } : {}),
    ...(env.SLACK_SIGNING_SECRET ? { signingSecret: env.SLACK_SIGNING_SECRET } : {}),
    ...(env.SLACK_APP_TOKEN ? { appToken: env.SLACK_APP_TOKEN } : {}),
    ...(env.SLACK_API_URL ? { apiUrl: env.SLACK_API_URL } : {}),
  };
  const parsed = SlackSectionSchema.safeParse(merged);
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => `slack.${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Slack settings are invalid: ${what}`);
  }
  const s = parsed.data;
  if (!s.botToken && Object.keys(s.workspaces).length === 0) {
    throw new ConfigError('Slack needs a bot token: set SLACK_BOT_TOKEN (xoxb-…) or slack.workspaces in the config.');
  }
  if (mode === 'http' && !s.signingSecret) throw new ConfigError('Slack over HTTP needs SLACK_SIGNING_SECRET (Basic Information → Signing Secret).');
  if (mode === 'socket' && !s.appToken) throw new ConfigError('Slack Socket Mode needs SLACK_APP_TOKEN (xapp-…, with connections:write).');
  return { ...s, mode };
}

/** Whether the environment or the config's `slack:` section configures Slack at all (serve mounts it only then). */
export function slackConfigured(config: Config, env: NodeJS.ProcessEnv): boolean {
  const section = (config as { slack?: unknown }).slack;
  return Boolean((env.SLACK_BOT_TOKEN && env.SLACK_SIGNING_SECRET) || (section && typeof section === 'object'));
}

/**
 * Settings from a loaded config's `slack:` section (its mistakes name the file and line) and the
 * environment, which wins.
 */
export function slackSettingsFromConfig(config: Config, env: NodeJS.ProcessEnv, mode: 'http' | 'socket'): SlackSettings {
  adapterSection(config, 'slack', SlackSectionSchema.optional());
  return slackSettings((config as { slack?: unknown }).slack, env, mode);
}
