/**
 * botbuilder's CloudAdapter behind a node:http route (`/api/messages`), and the connector clients the
 * bot uses for everything it sends after a turn. Kept in one place so a move to the Microsoft 365
 * Agents SDK replaces this file and connector.ts.
 */
import type http from 'node:http';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, ConfigurationServiceClientCredentialFactory, type TurnContext } from 'botbuilder';
import { AuthenticationConstants, ClaimsIdentity, type ServiceClientCredentialsFactory } from 'botframework-connector';
// The connector's serializer drops every entity property but type/text/mentioned (botbuilder 4.23.3; fixed
// upstream, unreleased). The mapper object is the one the serializer was built from, so letting the
// Entity mapper keep additional properties makes `streaminfo` fields (streamType, streamSequence,
// streamId) and the AI label's fields reach the wire.
import * as ConnectorMappers from 'botframework-connector/lib/connectorApi/models/mappers.js';
import type { Logger } from '../../index.js';
import { isLoopbackUrl, type TeamsSettings } from './config.js';
import type { ConnectorClientLike } from './connector.js';

let entitiesPatched = false;
export function keepEntityProperties(): void {
  if (entitiesPatched) return;
  const entity = (ConnectorMappers as unknown as { Entity: { type: { additionalProperties?: unknown } } }).Entity;
  entity.type.additionalProperties = { type: { name: 'Object' } };
  entitiesPatched = true;
}

export class ServiceUrlRefusedError extends Error {
  constructor(serviceUrl: string) {
    super(`serviceUrl ${serviceUrl} refused: without an app id the bot only talks to loopback service URLs (local development).`);
  }
}

export interface BotAdapter {
  adapter: CloudAdapter;
  appId: string;
  clientFor(serviceUrl: string): Promise<ConnectorClientLike>;
  checkServiceUrl(serviceUrl: string): void;
  /** The node:http route: parses the body, refuses what anonymous mode may not take, hands the rest to CloudAdapter. */
  route(logic: (context: TurnContext) => Promise<void>, maxBodyBytes?: number): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
}

export function createBotAdapter(settings: TeamsSettings, logger: Logger, credentialsFactory?: ServiceClientCredentialsFactory): BotAdapter {
  keepEntityProperties();
  const appId = settings.appId ?? '';
  const config: Record<string, string | boolean | undefined> = {
    MicrosoftAppId: appId,
    MicrosoftAppPassword: settings.appPassword,
    // Anonymous: no app type (botbuilder would demand an app id for SingleTenant) and no credentials.
    MicrosoftAppType: appId ? settings.appType : undefined,
    MicrosoftAppTenantId: appId ? settings.tenantId : undefined,
    CertificateThumbprint: settings.certificateThumbprint,
    CertificatePrivateKey: settings.certificatePrivateKey,
    ToBotFromChannelOpenIdMetadataUrl: settings.auth.openIdMetadataUrl,
    ToBotFromChannelTokenIssuer: settings.auth.tokenIssuer,
    ToChannelFromBotLoginUrl: settings.auth.loginUrl,
    ToChannelFromBotOAuthScope: settings.auth.oauthScope,
    ValidateAuthority: settings.auth.validateAuthority,
  };
  const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>;
  if (settings.auth.openIdMetadataUrl || settings.auth.loginUrl) {
    // Parameterized mode takes every endpoint as given; fill the ones not overridden with the public cloud's.
    defined.ToBotFromChannelOpenIdMetadataUrl ??= AuthenticationConstants.ToBotFromChannelOpenIdMetadataUrl;
    defined.ToBotFromChannelTokenIssuer ??= AuthenticationConstants.ToBotFromChannelTokenIssuer;
    defined.ToChannelFromBotLoginUrl ??= AuthenticationConstants.ToChannelFromBotLoginUrl;
    defined.ToChannelFromBotOAuthScope ??= AuthenticationConstants.ToChannelFromBotOAuthScope;
    defined.ToBotFromEmulatorOpenIdMetadataUrl ??= AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl;
    defined.OAuthUrl ??= AuthenticationConstants.OAuthUrl;
  }
  const factory = credentialsFactory ?? new ConfigurationServiceClientCredentialFactory(defined);
  const auth = new ConfigurationBotFrameworkAuthentication(defined, factory);
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (_context, error) => {
    logger.error('Teams turn failed', { error });
  };
  const identity = new ClaimsIdentity(
    [
      { type: AuthenticationConstants.AudienceClaim, value: appId },
      { type: AuthenticationConstants.AppIdClaim, value: appId },
    ],
    true,
  );
  const connectorFactory = auth.createConnectorFactory(identity);
  const clients = new Map<string, Promise<ConnectorClientLike>>();
  const anonymous = settings.mode === 'anonymous';

  const checkServiceUrl = (serviceUrl: string) => {
    if (anonymous && !isLoopbackUrl(serviceUrl)) throw new ServiceUrlRefusedError(serviceUrl);
  };

  return {
    adapter,
    appId,
    checkServiceUrl,
    clientFor(serviceUrl) {
      checkServiceUrl(serviceUrl);
      let client = clients.get(serviceUrl);
      if (!client) {
        client = connectorFactory.create(serviceUrl).then((c) => {
          // The connector client sits on @azure/core-client, whose default pipeline retries 429 (Retry-After,
          // however long) and 5xx on real timers, invisible to us. connector.ts retries instead, inside
          // Teams' limits and on our clock, so the SDK's retry policy comes out.
          (c as unknown as { client?: { pipeline?: { removePolicy(o: { phase: string }): unknown } } }).client?.pipeline?.removePolicy({ phase: 'Retry' });
          return c as unknown as ConnectorClientLike;
        });
        client.catch(() => clients.delete(serviceUrl));
        clients.set(serviceUrl, client);
      }
      return client;
    },
    route(logic, maxBodyBytes = 1 << 20) {
      return async (req, res) => {
        const read = await readJson(req, maxBodyBytes);
        const reply = (status: number, body?: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(body === undefined ? undefined : JSON.stringify(body));
        };
        if (req.method !== 'POST') return reply(405, { error: 'POST only' });
        if (!read.ok) return reply(read.status, { error: read.error });
        const serviceUrl = (read.body as { serviceUrl?: unknown }).serviceUrl;
        if (anonymous && (typeof serviceUrl !== 'string' || !isLoopbackUrl(serviceUrl))) {
          logger.warn('Teams activity refused: anonymous mode accepts loopback service URLs only', { serviceUrl });
          return reply(403, { error: 'serviceUrl must be loopback when the bot has no app id' });
        }
        await adapter.process({ body: read.body as Record<string, unknown>, headers: req.headers, method: req.method } as never, shimResponse(res) as never, logic);
      };
    },
  };
}

function readJson(req: http.IncomingMessage, limit: number): Promise<{ ok: true; body: object } | { ok: false; status: number; error: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => {
      if (size > limit) return resolve({ ok: false, status: 413, error: `body over ${limit} bytes` });
      try {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!body || typeof body !== 'object' || Array.isArray(body)) return resolve({ ok: false, status: 400, error: 'activity must be a JSON object' });
        resolve({ ok: true, body });
      } catch {
        resolve({ ok: false, status: 400, error: 'body is not JSON' });
      }
    });
    req.on('error', reject);
  });
}

/** The restify/express-like response CloudAdapter.process writes to. */
function shimResponse(res: http.ServerResponse) {
  let status = 200;
  let body: unknown;
  return {
    socket: res.socket,
    header(name: string, value: unknown) {
      res.setHeader(name, String(value));
    },
    status(code: number) {
      status = code;
    },
    send(b: unknown) {
      body = b;
    },
    end() {
      if (res.headersSent) return void res.end();
      if (body === undefined) {
        res.writeHead(status);
        return void res.end();
      }
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
      res.end(text);
    },
  };
}
