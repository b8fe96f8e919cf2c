import pg from 'pg';

/**
 * One dedicated connection that LISTENs on a channel (a pooled connection cannot: the pool hands it
 * to others). When it breaks, it reconnects with backoff (100 ms doubling to 5 s) and calls
 * `onReconnect`, so the owner can read what it missed while it was away.
 */
export class PostgresNotifications {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #handlers: { onMessage(payload: string): void; onReconnect(): void };
  #client: pg.Client | null = null;
  #started = false;
  #closed = false;
  #backoffMs = 100;
  #retry: NodeJS.Timeout | null = null;
  #ready: Promise<void>;
  #markReady!: () => void;

  constructor(config: pg.ClientConfig, channel: string, handlers: { onMessage(payload: string): void; onReconnect(): void }) {
    this.#config = config;
    this.#channel = channel;
    this.#handlers = handlers;
    this.#ready = new Promise((r) => (this.#markReady = r));
  }

  /** Connects and LISTENs (once; later calls do nothing). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#connect(false);
  }

  listening(): Promise<void> {
    this.start();
    return this.#ready;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }

  async #connect(reconnecting: boolean): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ ...this.#config, application_name: 'switchboard-listen' });
    const lost = () => {
      if (this.#client !== client) return;
      this.#client = null;
      void client.end().catch(() => {});
      this.#schedule();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.channel === this.#channel && msg.payload) this.#handlers.onMessage(msg.payload);
    });
    try {
      await client.connect();
      // The channel name is built from a checked schema name; quoted as an identifier all the same.
      await client.query(`LISTEN "${this.#channel.replaceAll('"', '""')}"`);
    } catch {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      return this.#schedule();
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#backoffMs = 100;
    this.#markReady();
    if (reconnecting) this.#handlers.onReconnect();
  }

  #schedule(): void {
    if (this.#closed || this.#retry) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, 5_000);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#connect(true);
    }, delay);
    this.#retry.unref();
  }
}
