/**
 * `switchboard mcp`: the MCP server on stdin/stdout for one local user. Stdout carries the protocol
 * only; logs go to stderr. The SDK and the engine load after the first `tools/list` is answered
 * (see stdio-front.ts), so hosts see the tools fast.
 */
import { createLogger, createSwitchboard, SwitchboardError, type Config, type Logger, type LogLevel, type Principal, type Switchboard } from '../index.js';
import { listToolsResult } from './catalog.js';
import { describeDeployment, lazy, progressIntervalFrom, stdioPrincipal, type McpDeps } from './context.js';
import { initializeResult } from './info.js';
import { StdioFront } from './stdio-front.js';

export interface StdioServeOptions {
  config: Config;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logger?: Logger;
  principal?: Principal;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** Opens the engine; defaults to `createSwitchboard` over the config. */
  open?: () => Promise<Switchboard>;
  progressIntervalMs?: number;
  /** Open the engine in the background once the SDK is up (default true), so the first call is quick. */
  warm?: boolean;
}

export interface StdioServer {
  /** Resolves when stdin has ended (or `close` was called) and the engine is closed. */
  closed: Promise<void>;
  /**
   * Stops reading, hands back what is in flight (an `ask_*` answers with its run_id, the run stays
   * in the store and the next process resumes it), then closes; resolves with `closed`.
   */
  close(): Promise<void>;
}

const IDLE_LOAD_MS = 100;

export function serveStdio(opts: StdioServeOptions): StdioServer {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger({ level: (env.SWITCHBOARD_LOG_LEVEL as LogLevel | undefined) ?? 'warn', name: 'mcp' });
  const { config } = opts;
  const { agents, catalog, plans, settings } = describeDeployment(config);
  // The engine loads on first use too (createSwitchboard imports it then): listing tools needs none of it.
  const open = opts.open ?? (() => createSwitchboard({ config, env, cwd: opts.cwd, logger }));
  const engine = lazy(open);
  // Set when stdin ends or on close: tool calls stop waiting and hand back a handle to poll.
  const ending = new AbortController();
  let closing = false;
  const deps: McpDeps = {
    config,
    agents,
    catalog,
    // Not after close: a late call would open an engine nobody closes, and keep the process alive.
    switchboard: () => (closing ? Promise.reject(new SwitchboardError('shutting_down', 'switchboard mcp is shutting down: call again once the host has restarted it.')) : engine.get()),
    principal: opts.principal ?? stdioPrincipal(env),
    env,
    logger,
    progressIntervalMs: opts.progressIntervalMs ?? progressIntervalFrom(env),
    askTimeoutMs: settings.askTimeoutMs,
    plans,
    shutdown: ending.signal,
  };

  let loading: Promise<void> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const load = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    if (closing) return;
    loading ??= (async () => {
      const started = performance.now();
      const { createMcpServer } = await import('./server.js');
      if (closing) return;
      const server = createMcpServer(deps);
      await server.connect(front);
      front.attached();
      logger.debug('MCP server ready', { ms: Math.round(performance.now() - started) });
      if (opts.warm !== false) setTimeout(() => void deps.switchboard().catch((err: unknown) => closing || logger.warn('engine failed to open', { error: err })), 0);
    })().catch((err: unknown) => {
      logger.error('MCP server failed to start', { error: err });
      void front.close();
    });
  };

  const front = new StdioFront({
    stdin: opts.stdin,
    stdout: opts.stdout,
    needEngine: load,
    onEnd: () => ending.abort(),
    fast: {
      initialize(params) {
        // Load soon even if the host never lists tools, so its first call does not wait for the SDK.
        idleTimer ??= setTimeout(load, IDLE_LOAD_MS);
        return initializeResult(params?.protocolVersion, { plans });
      },
      listTools: () => listToolsResult(catalog),
    },
  });

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  front.onClosed(() => {
    closing = true;
    ending.abort();
    if (idleTimer) clearTimeout(idleTimer);
    // An engine still opening is waited for and closed: its store and timers would hold the process.
    const sb = engine.peek();
    void (sb ? sb.then((s) => s.close()).catch(() => undefined) : Promise.resolve()).finally(resolveClosed);
  });
  front.listen();
  return {
    closed,
    close: () => {
      front.end();
      return closed;
    },
  };
}
