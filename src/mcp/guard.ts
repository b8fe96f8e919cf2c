/**
 * Who may talk to the HTTP MCP endpoint: Host and Origin validation against DNS rebinding, and
 * bearer tokens per principal (config `mcp.tokens`). Tokens are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError, principalFromId, type Principal } from '../index.js';

export const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'] as const;

export interface GuardOptions {
  /** The address the server binds (`127.0.0.1`, `0.0.0.0`, `my-host.example`). */
  bindHost: string;
  /** Principal id -> token (config `mcp.tokens`; an id without a surface, `alice`, is mcp:alice). */
  tokens: Record<string, string>;
  /** Host names (no port) accepted beyond the loopback names and the bound host. */
  allowedHosts?: string[];
  /** Full origins (`https://app.example`) accepted beyond the allowed host names. */
  allowedOrigins?: string[];
}

export type GuardResult =
  | { ok: true; principal: Principal; principalKey: string }
  | { ok: false; status: 401 | 403; message: string; headers?: Record<string, string> };

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

const isWildcard = (host: string): boolean => ['0.0.0.0', '::', '[::]', ''].includes(host);

/** `hostname` of a Host header value (`[::1]:3939` -> `[::1]`), or null if it cannot be parsed. */
export function hostnameOf(hostHeader: string): string | null {
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function createGuard(opts: GuardOptions): (req: IncomingMessage) => GuardResult {
  const loopback = isLoopback(opts.bindHost);
  const tokens = Object.entries(opts.tokens).map(([id, token]) => ({ id, digest: digest(token), principal: principalFromId(id, { surface: 'mcp' }) }));
  if (!loopback && tokens.length === 0) {
    throw new ConfigError(
      `Serving on ${opts.bindHost} (beyond this machine) needs bearer tokens: add mcp.tokens to the config (principal id: token of 16+ characters), or bind 127.0.0.1.`,
    );
  }
  // Which Host names are ours. Bound to a wildcard without --allowed-host, any name reaches us: tokens guard it.
  const hosts = new Set<string>([...LOOPBACK_HOSTNAMES, ...(opts.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  if (!isWildcard(opts.bindHost)) hosts.add(hostnameOf(opts.bindHost) ?? opts.bindHost.toLowerCase());
  const checkHost = loopback || !isWildcard(opts.bindHost) || (opts.allowedHosts?.length ?? 0) > 0;
  const origins = new Set((opts.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, '')));

  return (req) => {
    const host = req.headers.host;
    if (checkHost) {
      const name = host ? hostnameOf(host) : null;
      if (!name || !hosts.has(name)) return { ok: false, status: 403, message: `Invalid Host header: ${host ?? '(none)'}` };
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const normalized = origin.toLowerCase().replace(/\/$/, '');
      let name: string | null = null;
      try {
        name = new URL(normalized).hostname;
      } catch {
        name = null;
      }
      const allowed = origins.has(normalized) || (name !== null && checkHost && hosts.has(name)) || (!checkHost && origins.size === 0);
      if (!allowed) return { ok: false, status: 403, message: `Invalid Origin header: ${origin}` };
    }
    if (tokens.length === 0) return { ok: true, principal: { surface: 'mcp', userId: 'local' }, principalKey: 'mcp:local' };
    const auth = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    const challenge = { 'www-authenticate': 'Bearer realm="switchboard"' };
    if (!match) return { ok: false, status: 401, message: 'Missing bearer token: send "Authorization: Bearer <token>".', headers: challenge };
    const given = digest(match[1]!);
    let found: (typeof tokens)[number] | undefined;
    for (const t of tokens) if (timingSafeEqual(t.digest, given) && !found) found = t;
    if (!found) return { ok: false, status: 401, message: 'Invalid bearer token.', headers: { 'www-authenticate': 'Bearer realm="switchboard", error="invalid_token"' } };
    return { ok: true, principal: found.principal, principalKey: found.id };
  };
}
