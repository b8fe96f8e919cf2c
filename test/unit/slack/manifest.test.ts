/**
 * manifest/slack/manifest.json type-checks against @slack/web-api's manifest argument type (tsc runs
 * over the tests), and asks for what the bot uses and nothing more.
 */
import { describe, expect, it } from 'vitest';
import type { AppsManifestCreateArguments } from '@slack/web-api';
import type { AgentSessionStoppedEvent } from '@slack/types';
import raw from '../../../manifest/slack/manifest.json' with { type: 'json' };

type Manifest = AppsManifestCreateArguments['manifest'];
type BotEvent = NonNullable<NonNullable<NonNullable<Manifest['settings']>['event_subscriptions']>['bot_events']>[number];
type BotScope = NonNullable<NonNullable<NonNullable<Manifest['oauth_config']>['scopes']>['bot']>[number];

// JSON imports widen string literals to string: the scopes and events are spelled here as the SDK's
// literal types (checked by tsc) and the file must equal them (checked at run time).
const SCOPES = ['app_mentions:read', 'channels:history', 'chat:write', 'commands', 'files:read', 'files:write', 'groups:history', 'im:history'] as const satisfies readonly BotScope[];
const EVENTS = ['app_mention', 'message.channels', 'message.groups', 'message.im', 'app_home_opened', 'tokens_revoked', 'app_uninstalled'] as const satisfies readonly BotEvent[];

// What Slack added after @slack/web-api 8.2's manifest types: the agent_session_stopped event (checked
// against @slack/types' event name instead) and the assistant:write scope (the agent view, statuses,
// suggested prompts; its methods' docs name it, the SDK's BotScope union does not yet).
const NEWER: AgentSessionStoppedEvent['type'][] = ['agent_session_stopped'];
const NEWER_SCOPES = ['assistant:write'] as const;

describe('Slack app manifest', () => {
  it('fits the Web API manifest type', () => {
    const events = raw.settings.event_subscriptions.bot_events;
    expect([...events].sort()).toEqual([...EVENTS, ...NEWER].sort());
    expect([...raw.oauth_config.scopes.bot].sort()).toEqual([...SCOPES, ...NEWER_SCOPES].sort());
    const typed: Manifest = {
      ...raw,
      oauth_config: { scopes: { bot: [...SCOPES] } },
      settings: { ...raw.settings, event_subscriptions: { ...raw.settings.event_subscriptions, bot_events: [...EVENTS] } },
    };
    expect(typed.features?.agent_view?.suggested_prompts?.length).toBeLessThanOrEqual(4);
    expect(typed.features?.agent_view?.agent_description?.length).toBeLessThanOrEqual(300);
    expect(raw.features).not.toHaveProperty('assistant_view');
  });

  it('asks for the scopes the bot uses and no others', () => {
    // What each is for: README, section Slack. Nothing beyond these (no users:read, no chat:write.public).
    expect(raw.oauth_config.scopes.bot).toHaveLength(SCOPES.length + NEWER_SCOPES.length);
    for (const url of [raw.settings.event_subscriptions.request_url, raw.settings.interactivity.request_url, raw.features.slash_commands[0]!.url]) {
      expect(url).toBe('https://YOUR-HOST/slack/events');
    }
  });
});
