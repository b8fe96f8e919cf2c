/**
 * The Teams bot, mounted by `switchboard serve` at `/api/messages` when Teams is configured.
 * Everything botbuilder is inside this folder; the engine is reached through the face only.
 */
import { setMaxListeners } from 'node:events';
import type http from 'node:http';
import type { ServiceClientCredentialsFactory } from 'botframework-connector';
import type { Logger } from '../../index.js';
import { createBotAdapter } from './adapter.js';
import { SwitchboardTeamsBot } from './bot.js';
import { assertBindAllowed, type TeamsSettings } from './config.js';
import { TeamsConnector, type ConnectorOptions } from './connector.js';
import type { FaceHelpers, TeamsEngine } from './engine.js';
import { realClock, type Clock } from './limits.js';
import { OpenStreams } from './streaming.js';
import { CardSync } from './sync.js';

export { teamsSettings, teamsFromConfig, assertBindAllowed, isLoopbackHost, isLoopbackUrl, type TeamsSettings } from './config.js';
export type { TeamsEngine, FaceHelpers } from './engine.js';

export interface TeamsBotOptions {
  settings: TeamsSettings;
  engine: TeamsEngine;
  helpers: FaceHelpers;
  logger: Logger;
  /** The address the HTTP server binds: anonymous mode refuses anything but loopback. */
  bindHost: string;
  clock?: Clock;
  /** Largest image taken from a message (the engine's `limits.maxImageBytes`). */
  maxImageBytes?: number;
  /** Replaces botbuilder's credential factory (a custom token endpoint; tests). */
  credentialsFactory?: ServiceClientCredentialsFactory;
  onConnectorCall?: ConnectorOptions['onCall'];
}

export interface TeamsBot {
  route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  connector: TeamsConnector;
  /** Resolves when the replies, welcomes and card edits started so far are done. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function createTeamsBot(opts: TeamsBotOptions): TeamsBot {
  assertBindAllowed(opts.settings, opts.bindHost);
  const clock = opts.clock ?? realClock;
  const bot = createBotAdapter(opts.settings, opts.logger, opts.credentialsFactory);
  const connector = new TeamsConnector({ clientFor: bot.clientFor, checkServiceUrl: bot.checkServiceUrl, clock, ...(opts.onConnectorCall ? { onCall: opts.onConnectorCall } : {}) });
  const onError = (err: unknown) => opts.logger.warn('Teams: sending failed', { error: err });
  const streams = new OpenStreams();
  const sync = new CardSync(opts.engine, connector, onError, { streams, clock });
  const stopSync = sync.start();
  const work = new Set<Promise<unknown>>();
  const closing = new AbortController();
  // Every reply in flight follows its run with this signal: hundreds of listeners are expected.
  setMaxListeners(0, closing.signal);
  const track = (p: Promise<unknown>) => {
    const w = p.catch(onError).finally(() => work.delete(w));
    work.add(w);
  };
  const handler = new SwitchboardTeamsBot({
    engine: opts.engine,
    helpers: opts.helpers,
    connector,
    sync,
    settings: opts.settings,
    logger: opts.logger,
    reply: { clock, signal: closing.signal, maxInlineImageBytes: opts.settings.maxInlineImageBytes, streaming: opts.settings.streaming, onError, streams },
    token: async (serviceUrl) => {
      if (opts.settings.mode === 'anonymous') return null;
      const client = (await bot.clientFor(serviceUrl)) as unknown as { credentials?: { getToken?: () => Promise<string> } };
      return (await client.credentials?.getToken?.()) ?? null;
    },
    maxImageBytes: opts.maxImageBytes ?? 10 * 1024 * 1024,
    track,
  });
  const route = bot.route((context) => handler.run(context));
  return {
    route,
    connector,
    async idle() {
      while (work.size) await Promise.all([...work]);
      await sync.idle();
    },
    async close() {
      stopSync();
      closing.abort();
      await Promise.allSettled([...work]);
    },
  };
}
