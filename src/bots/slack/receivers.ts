/**
 * How Slack's requests reach the Bolt app.
 *
 * HTTP: Bolt's HTTPReceiver, mounted as a route on the server `switchboard serve` already runs (so MCP,
 * Slack and Teams share one port). It verifies every request (signature over `v0:ts:body`, timestamp
 * within five minutes; else 401). With `processBeforeResponse` the HTTP answer (Slack's "ack") leaves
 * only after the listeners ran, and the listeners write the message durably (the core's idempotent
 * send) before they return: Slack never redelivers an acked event, so nothing may be lost after it.
 *
 * Socket Mode: Bolt's SocketModeReceiver acks an event before the listeners run. This receiver holds
 * the ack of an `events_api` envelope until the listeners are done, as HTTP does; interactive payloads
 * are acked when the listener calls ack() (a view submission's answer rides on it).
 */
import type http from 'node:http';
import type { App, Receiver } from '@slack/bolt';
import { HTTPReceiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import type { Logger } from '../../index.js';
import { slackLogger } from './clients.js';

export function httpReceiver(signingSecret: string, logger: Logger): HTTPReceiver & { handle(req: http.IncomingMessage, res: http.ServerResponse): void } {
  const receiver = new HTTPReceiver({
    signingSecret,
    endpoints: '/slack/events',
    processBeforeResponse: true,
    logger: slackLogger(logger),
  }) as HTTPReceiver & { handle(req: http.IncomingMessage, res: http.ServerResponse): void };
  receiver.handle = (req, res) => receiver.requestListener(req, res);
  return receiver;
}

export class HeldAckSocketReceiver implements Receiver {
  readonly client: SocketModeClient;
  #app: App | null = null;

  constructor(opts: { appToken: string; apiUrl?: string; logger: Logger }) {
    this.client = new SocketModeClient({
      appToken: opts.appToken,
      logger: slackLogger(opts.logger),
      clientOptions: opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {},
    });
    this.client.on('slack_event', async (args: { ack: (response?: Record<string, unknown>) => Promise<void>; body: Record<string, unknown>; retry_num?: number; retry_reason?: string }) => {
      const isEvent = args.body.type === 'event_callback';
      let acked = false;
      let held: Record<string, unknown> | undefined;
      const ack = async (response?: Record<string, unknown>) => {
        if (acked) return;
        if (isEvent) {
          held = response;
          return;
        }
        acked = true;
        await args.ack(response);
      };
      try {
        await this.#app?.processEvent({ body: args.body, ack, retryNum: args.retry_num, retryReason: args.retry_reason, customProperties: {} });
      } catch (err) {
        opts.logger.warn('Slack Socket Mode event failed', { error: err });
      } finally {
        // An event is acked once the listeners ran (its durable write included); a payload nobody acked still is.
        if (!acked) {
          acked = true;
          await args.ack(held).catch(() => undefined);
        }
      }
    });
  }

  init(app: App): void {
    this.#app = app;
  }

  start(): Promise<unknown> {
    return this.client.start();
  }

  stop(): Promise<unknown> {
    return this.client.disconnect();
  }
}
