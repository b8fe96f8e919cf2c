/**
 * The HTTP MCP sessions of one process, each bound to the principal that opened it. Sessions cost
 * memory (an SDK server, a transport, an event store), and a client that re-initializes without
 * ever closing — a host restarting, a script in a loop — would otherwise pile them up. So:
 *
 * - a session with no request for `idleMs` and no tool call in flight is closed (`sweep`);
 * - a principal has at most `maxPerPrincipal` sessions. Opening one more closes that principal's
 *   least recently used session that has no call in flight: such a session is almost always one a
 *   client abandoned, and its conversations live on in the store. Refusing instead would lock the
 *   principal out until the idle timeout, for the very clients that leak (hosts that restart). When
 *   every one of them has a call in flight, the new session is refused, with a message saying why.
 *   A principal's sessions are never closed to make room for another principal's.
 *
 * Time comes from `now` and sweeping is a method, so tests drive both.
 */

export interface PooledSession {
  readonly id: string;
  readonly principalKey: string;
  /** Frees everything the session holds: its transport, its server, the watchers of its calls. */
  close(): Promise<void>;
}

interface Entry<S extends PooledSession> {
  session: S;
  lastSeen: number;
  calls: number;
}

export type Admission = { ok: true; release: () => void } | { ok: false; message: string };

export interface SessionPoolOptions {
  idleMs: number;
  maxPerPrincipal: number;
  now?: () => number;
  /** Told about every session the pool closes on its own, and why. */
  onClose?: (session: PooledSession, why: 'idle' | 'evicted') => void;
}

export class SessionPool<S extends PooledSession = PooledSession> {
  readonly #entries = new Map<string, Entry<S>>();
  /** Initializes under way per principal: admitted, not registered yet. */
  readonly #opening = new Map<string, number>();
  readonly #opts: SessionPoolOptions;
  readonly #now: () => number;

  constructor(opts: SessionPoolOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  countOf(principalKey: string): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.session.principalKey === principalKey) n++;
    return n;
  }

  /** Room for one more session of this principal; `release` once it is registered or failed to open. */
  admit(principalKey: string): Admission {
    const max = this.#opts.maxPerPrincipal;
    const opening = this.#opening.get(principalKey) ?? 0;
    const mine = [...this.#entries.values()].filter((e) => e.session.principalKey === principalKey);
    const idle = mine.filter((e) => e.calls === 0).sort((a, b) => a.lastSeen - b.lastSeen);
    let count = mine.length + opening;
    while (count >= max && idle.length > 0) {
      this.#closeEntry(idle.shift()!, 'evicted');
      count--;
    }
    if (count >= max) {
      return {
        ok: false,
        message:
          `Too many MCP sessions for ${principalKey}: ${max} are open and each has a tool call in flight. ` +
          'Close one you no longer use (HTTP DELETE with its Mcp-Session-Id), or retry when a call has ended.',
      };
    }
    this.#opening.set(principalKey, opening + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#opening.get(principalKey) ?? 1) - 1;
        if (left > 0) this.#opening.set(principalKey, left);
        else this.#opening.delete(principalKey);
      },
    };
  }

  add(session: S): void {
    this.#entries.set(session.id, { session, lastSeen: this.#now(), calls: 0 });
  }

  /** The session, if it exists and belongs to this principal (someone else's is as unknown as a missing one). */
  use(id: string, principalKey: string): S | undefined {
    const e = this.#entries.get(id);
    if (!e || e.session.principalKey !== principalKey) return undefined;
    e.lastSeen = this.#now();
    return e.session;
  }

  /** A tool call started in this session: it is not idle until the function returned is called. */
  callStarted(id: string): () => void {
    const e = this.#entries.get(id);
    if (!e) return () => {};
    e.calls++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      e.calls--;
      e.lastSeen = this.#now();
    };
  }

  /** Forgets a session that closed by itself (the client's DELETE, the transport closing). */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  /** Closes every session idle for longer than `idleMs`; returns how many. */
  sweep(): number {
    const oldest = this.#now() - this.#opts.idleMs;
    let closed = 0;
    for (const e of [...this.#entries.values()]) {
      if (e.calls === 0 && e.lastSeen < oldest) {
        this.#closeEntry(e, 'idle');
        closed++;
      }
    }
    return closed;
  }

  async closeAll(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(all.map((e) => e.session.close().catch(() => undefined)));
  }

  #closeEntry(e: Entry<S>, why: 'idle' | 'evicted'): void {
    this.#entries.delete(e.session.id);
    this.#opts.onClose?.(e.session, why);
    void e.session.close().catch(() => undefined);
  }
}
