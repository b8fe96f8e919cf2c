import type { Config } from '../agents/spec.js';
import { StoreUnavailableError, SwitchboardError } from '../errors.js';

type Failure = Error & { code?: string; errors?: unknown[] };

/** The first error code in an error (or, for a connection tried on several addresses, in its parts). */
function codeOf(err: unknown): string | undefined {
  const e = err as Failure | undefined;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'string') return e.code;
  for (const part of e.errors ?? []) {
    const code = codeOf(part);
    if (code) return code;
  }
  return undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message || err.constructor.name : String(err);
}

/** Where a PostgreSQL URL points, for people: host, port, database and user, never the password. */
export function describePostgresUrl(url: string): { where: string; host: string; database: string; user: string; password: string } | null {
  try {
    const u = new URL(url);
    const host = u.hostname || 'localhost';
    const port = u.port || '5432';
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
    return { where: `${host}:${port}`, host, database, user: decodeURIComponent(u.username) || '(default user)', password: decodeURIComponent(u.password) };
  } catch {
    return null;
  }
}

function postgresFailure(url: string, err: unknown): StoreUnavailableError {
  const at = describePostgresUrl(url);
  if (!at) return new StoreUnavailableError('postgres', 'store.url is not a valid PostgreSQL URL (postgres://user:password@host:5432/database).', { cause: err });
  const code = codeOf(err);
  const reach = (why: string, hint: string) => new StoreUnavailableError('postgres', `cannot reach PostgreSQL at ${at.where} (${why}) — ${hint}`, { cause: err });
  switch (code) {
    case 'ECONNREFUSED':
      return reach('connection refused', 'is it running? check store.url');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return reach(`unknown host ${at.host}`, 'check the host in store.url');
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return reach('no answer', 'is it running, and reachable from here? check store.url');
    case 'ECONNRESET':
      return reach('the connection was closed', 'does the server accept connections from here (pg_hba.conf, TLS)? check store.url');
    case '28P01':
    case '28000':
      return new StoreUnavailableError('postgres', `PostgreSQL at ${at.where} refused the login of user ${at.user} (wrong password, or no access) — check the user and password in store.url`, { cause: err });
    case '3D000':
      return new StoreUnavailableError('postgres', `PostgreSQL at ${at.where} has no database "${at.database}" — create it (createdb ${at.database}) or fix store.url`, { cause: err });
    case '42501':
      return new StoreUnavailableError('postgres', `user ${at.user} may not create Switchboard's tables in database "${at.database}" at ${at.where} (permission denied) — grant it, or use another database in store.url`, { cause: err });
    default: {
      // pg's own wording, without the password should a driver ever echo it.
      const said = at.password ? messageOf(err).split(at.password).join('***') : messageOf(err);
      if (/SASL|password/i.test(said)) {
        return new StoreUnavailableError('postgres', `PostgreSQL at ${at.where} refused the login of user ${at.user} (${said}) — check the password in store.url`, { cause: err });
      }
      return new StoreUnavailableError('postgres', `cannot use PostgreSQL at ${at.where}, database "${at.database}" (${said}) — check store.url`, { cause: err });
    }
  }
}

function sqliteFailure(path: string, err: unknown): StoreUnavailableError {
  const code = codeOf(err) ?? '';
  const fail = (why: string, hint: string) => new StoreUnavailableError('sqlite', `cannot open the SQLite store ${path} (${why}) — ${hint}`, { cause: err });
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return fail('the file is not a SQLite database, or is damaged', 'move it aside to start afresh, or point store.path at the right file');
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return fail('locked by another process', 'wait for it to finish, or stop it');
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return fail('not writable', 'check the permissions of the file and its folder, or set store.path');
  }
  if (code === 'EEXIST' || code === 'ENOTDIR') return fail('a file is in the way of its folder', 'set store.path to a path inside a folder');
  if (code === 'SQLITE_CANTOPEN' || code === 'ENOENT') return fail('cannot create or open the file', 'check that its folder can be created and written, and that the path is not a folder; or set store.path');
  return fail(messageOf(err), 'check store.path');
}

/** A failure to open or initialise the configured store, as an error a person can act on. */
export function storeUnavailable(config: Config['store'], where: string, err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  return config.type === 'postgres' ? postgresFailure(config.url, err) : sqliteFailure(where, err);
}
