/**
 * Every call the bot makes to the Bot Framework connector goes through here: spaced to stay inside
 * Teams' per-conversation and per-tenant limits, and retried on 429 (after Retry-After), 412, 502 and
 * 504 — botbuilder's connector client has no retry policy of its own (its factory replaces the
 * default pipeline). The connector client is botbuilder's, made by the authentication's connector
 * factory for the conversation's service URL, so tokens come from the same place as in a turn.
 */
import type { Activity } from 'botbuilder';
import { SwitchboardError } from '../../index.js';
import { PER_CONVERSATION, PER_TENANT, SlidingLimiter, realClock, retryAfterMs, type Clock } from './limits.js';

export interface ConnectorClientLike {
  conversations: {
    sendToConversation(conversationId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
    updateActivity(conversationId: string, activityId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
  };
}

export interface Target {
  serviceUrl: string;
  conversationId: string;
  tenantId?: string;
}

export class ConnectorCallError extends SwitchboardError {
  readonly status: number | null;
  readonly errorCode: string | null;
  /** The channel's own `error.message` (Teams tells its 403s apart only by it), when it sent one. */
  readonly errorMessage: string | null;
  constructor(message: string, status: number | null, errorCode: string | null, errorMessage: string | null = null) {
    super('teams_connector', message);
    this.status = status;
    this.errorCode = errorCode;
    this.errorMessage = errorMessage;
  }
}

export interface ConnectorOptions {
  clientFor(serviceUrl: string): Promise<ConnectorClientLike>;
  /** Throws for a service URL the bot must not call (anonymous mode: anything but loopback). */
  checkServiceUrl(serviceUrl: string): void;
  clock?: Clock;
  /** Attempts per call, the first included (default 5). */
  attempts?: number;
  /** Longest wait we accept for one retry; a longer Retry-After fails the call instead (default 60 s). */
  maxRetryWaitMs?: number;
  /** Called for every call the connector answered, in order (bench counts these). */
  onCall?: (method: 'send' | 'update', status: number) => void;
}

const RETRYABLE = new Set([412, 429, 502, 504]);

export class TeamsConnector {
  readonly #opts: ConnectorOptions;
  readonly #clock: Clock;
  readonly #perConversation = new SlidingLimiter(PER_CONVERSATION);
  readonly #perTenant = new SlidingLimiter(PER_TENANT);

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
  }

  /** Posts an activity to the conversation; returns the new activity's id. */
  async send(target: Target, activity: Partial<Activity>, opts: { attempts?: number } = {}): Promise<string> {
    const res = await this.#call(target, 'send', (c) => c.conversations.sendToConversation(target.conversationId, activity), opts.attempts);
    return res.id ?? '';
  }

  async update(target: Target, activityId: string, activity: Partial<Activity>): Promise<void> {
    await this.#call(target, 'update', (c) => c.conversations.updateActivity(target.conversationId, activityId, { ...activity, id: activityId }));
  }

  async #call<T>(target: Target, method: 'send' | 'update', fn: (c: ConnectorClientLike) => Promise<T>, attempts = this.#opts.attempts ?? 5): Promise<T> {
    this.#opts.checkServiceUrl(target.serviceUrl);
    const client = await this.#opts.clientFor(target.serviceUrl);
    const convKey = `${target.serviceUrl}|${target.conversationId.split(';')[0]}`;
    const tenantKey = target.tenantId ?? target.serviceUrl;
    for (let attempt = 1; ; attempt++) {
      await this.#admit(convKey, tenantKey);
      try {
        const out = await fn(client);
        this.#opts.onCall?.(method, 200);
        return out;
      } catch (err) {
        const { status, retryAfter, code, message, bodyMessage } = describe(err, this.#clock.now());
        if (status !== null) this.#opts.onCall?.(method, status);
        if (status === null || !RETRYABLE.has(status) || attempt >= attempts)
          throw new ConnectorCallError(`Teams connector ${method} failed${status ? ` (${status}${code ? ' ' + code : ''})` : ''}: ${bodyMessage ?? message}`, status, code, bodyMessage);
        const backoff = Math.min(16_000, 500 * 2 ** (attempt - 1));
        const wait = retryAfter ?? backoff;
        if (wait > (this.#opts.maxRetryWaitMs ?? 60_000)) throw new ConnectorCallError(`Teams connector asked to wait ${Math.round(wait / 1000)} s (Retry-After); giving up on this ${method}.`, status, code);
        await this.#clock.sleep(wait);
      }
    }
  }

  /** Waits until both the conversation's and the tenant's windows have room, then books the call. */
  async #admit(convKey: string, tenantKey: string): Promise<void> {
    for (;;) {
      const now = this.#clock.now();
      const wait = Math.max(this.#perConversation.delay(convKey, now), this.#perTenant.delay(tenantKey, now));
      if (wait <= 0) {
        this.#perConversation.book(convKey, now);
        this.#perTenant.book(tenantKey, now);
        return;
      }
      await this.#clock.sleep(wait);
    }
  }
}

interface RestErrorLike {
  statusCode?: number;
  status?: number;
  message?: string;
  code?: string;
  response?: { headers?: { get?(name: string): string | undefined } | Record<string, string>; parsedBody?: unknown; bodyAsText?: string };
}

function describe(err: unknown, now: number): { status: number | null; retryAfter: number | null; code: string | null; message: string; bodyMessage: string | null } {
  const e = (err ?? {}) as RestErrorLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : null;
  const headers = e.response?.headers;
  const ra = headers ? (typeof headers.get === 'function' ? headers.get('retry-after') : (headers as Record<string, string>)['retry-after']) : undefined;
  type ErrorBody = { error?: { code?: unknown; message?: unknown } } | undefined;
  let body = e.response?.parsedBody as ErrorBody;
  if (!body?.error && e.response?.bodyAsText) {
    try {
      body = JSON.parse(e.response.bodyAsText) as ErrorBody;
    } catch {
      body = undefined;
    }
  }
  const code = typeof body?.error?.code === 'string' ? body.error.code : null;
  const bodyMessage = typeof body?.error?.message === 'string' ? body.error.message : null;
  return { status, retryAfter: retryAfterMs(ra, now), code, message: e.message ?? String(err), bodyMessage };
}
