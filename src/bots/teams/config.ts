/**
 * The `teams:` config section and its environment variables, validated here (the core keeps adapter
 * sections raw). Two modes:
 * - authenticated (an app id): every inbound token is checked by botbuilder; single-tenant is the default
 *   and needs the tenant id, because new multi-tenant registrations are deprecated;
 * - anonymous (no app id): botbuilder then skips ALL token checks and would post replies to any
 *   `serviceUrl` a request names, so it is allowed for local development only: loopback bind, loopback
 *   service URLs (checked per activity in adapter.ts, and again before every connector call).
 */
import { z } from 'zod';
import { adapterSection, ConfigError, type Config } from '../../index.js';

const AppType = z.enum(['SingleTenant', 'MultiTenant', 'UserAssignedMSI']);

export const TeamsSectionSchema = z
  .object({
    appId: z.string().min(1).optional(),
    appPassword: z.string().min(1).optional(),
    appType: AppType.default('SingleTenant'),
    tenantId: z.string().min(1).optional(),
    certificateThumbprint: z.string().optional(),
    certificatePrivateKey: z.string().optional(),
    /** Where botbuilder fetches the channel's OpenID metadata and which issuer it trusts, and where it gets tokens (sovereign clouds, tests). */
    auth: z
      .object({
        openIdMetadataUrl: z.string().url().optional(),
        tokenIssuer: z.string().optional(),
        loginUrl: z.string().url().optional(),
        oauthScope: z.string().optional(),
        validateAuthority: z.boolean().optional(),
      })
      .strict()
      .default({}),
    /** Stream personal-chat replies (Teams allows it only there). */
    streaming: z.boolean().default(true),
    /** Largest image sent back as an attachment (Teams rejects activities over ~100 KB inline; bigger ones go as a link-less notice). */
    maxInlineImageBytes: z.number().int().positive().default(80_000),
  })
  .strict();

export type TeamsSection = z.infer<typeof TeamsSectionSchema>;

export interface TeamsSettings extends TeamsSection {
  mode: 'authenticated' | 'anonymous';
}

/** Environment names Bot Framework samples use, and ours. The section wins over the environment. */
export function teamsSettings(raw: unknown, env: Record<string, string | undefined>): TeamsSettings | null {
  const fromEnv = {
    appId: env.TEAMS_APP_ID ?? env.MicrosoftAppId,
    appPassword: env.TEAMS_APP_PASSWORD ?? env.MicrosoftAppPassword,
    appType: env.TEAMS_APP_TYPE ?? env.MicrosoftAppType,
    tenantId: env.TEAMS_TENANT_ID ?? env.MicrosoftAppTenantId,
  };
  const configured = raw !== undefined && raw !== null;
  const anyEnv = Object.values(fromEnv).some((v) => v) || env.SWITCHBOARD_TEAMS === 'anonymous';
  if (!configured && !anyEnv) return null;
  const merged = { ...dropEmpty(fromEnv), ...(typeof raw === 'object' && raw ? raw : {}) };
  const parsed = TeamsSectionSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: ['teams', ...i.path].join('.'), message: i.message }));
    throw new ConfigError(`teams: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
  }
  const s = parsed.data;
  if (!s.appId) return { ...s, mode: 'anonymous' };
  if (s.appType === 'SingleTenant' && !s.tenantId)
    throw new ConfigError('teams.tenantId: a single-tenant bot needs its tenant id (TEAMS_TENANT_ID or MicrosoftAppTenantId); new multi-tenant registrations are deprecated.', {
      issues: [{ path: 'teams.tenantId', message: 'required for SingleTenant' }],
    });
  // What botbuilder's credential factory would otherwise assert at start, as a typed error naming the setting.
  if (s.appType === 'UserAssignedMSI' && (!s.tenantId || s.appPassword))
    throw new ConfigError(`teams: a managed identity (appType UserAssignedMSI) ${!s.tenantId ? 'needs its tenant id (TEAMS_TENANT_ID)' : 'takes no client secret: unset TEAMS_APP_PASSWORD / teams.appPassword'}.`, {
      issues: [{ path: !s.tenantId ? 'teams.tenantId' : 'teams.appPassword', message: !s.tenantId ? 'required for UserAssignedMSI' : 'not allowed for UserAssignedMSI' }],
    });
  if (!s.certificateThumbprint !== !s.certificatePrivateKey)
    throw new ConfigError('teams: a certificate needs both teams.certificateThumbprint and teams.certificatePrivateKey.', {
      issues: [{ path: s.certificateThumbprint ? 'teams.certificatePrivateKey' : 'teams.certificateThumbprint', message: 'required with a certificate' }],
    });
  if (s.appType !== 'UserAssignedMSI' && !s.appPassword && !s.certificatePrivateKey)
    throw new ConfigError('teams.appPassword: set the client secret (TEAMS_APP_PASSWORD), or a certificate (teams.certificateThumbprint + certificatePrivateKey), or appType UserAssignedMSI.', {
      issues: [{ path: 'teams.appPassword', message: 'no credential' }],
    });
  return { ...s, mode: 'authenticated' };
}

function dropEmpty(o: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => !!e[1]));
}

/** 127.0.0.0/8, ::1 and localhost: the only places an anonymous bot may listen on or talk to. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export function isLoopbackUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}

/** Refuses to serve anonymously on anything but loopback (checked before the server binds). */
export function assertBindAllowed(settings: TeamsSettings, bindHost: string): void {
  if (settings.mode === 'anonymous' && !isLoopbackHost(bindHost))
    throw new ConfigError(
      `teams: without an app id the bot endpoint skips token validation, so it is served on loopback only (got --host ${bindHost}). Set TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID to serve it on a public address.`,
      { issues: [{ path: 'teams.appId', message: 'required for a non-loopback bind' }] },
    );
}

/** Teams settings from a loaded config's `teams:` section and the environment; null when Teams is not configured. */
export function teamsFromConfig(config: Config, env: Record<string, string | undefined>): TeamsSettings | null {
  // Validated first as written, so a mistake names its file and line; then merged with the environment.
  adapterSection(config, 'teams', TeamsSectionSchema.optional());
  return teamsSettings(adapterSection(config, 'teams', z.unknown()), env);
}
