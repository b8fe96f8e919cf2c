/**
 * What every MCP tool and resource handler needs: the engine (opened on first use), who is calling,
 * and the timing knobs. Built once per process (stdio) or per session (HTTP, one principal each).
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { dirname, parse } from 'node:path';
import { AgentRegistry, builtinTools, knownToolNames, principalId, type Config, type Logger, type Principal, type Switchboard, type ToolAnnotations } from '../index.js';
import { buildCatalog, type CatalogEntry } from './catalog.js';
import { mcpConfig, type McpConfig } from './config.js';
import { planCatalog } from './plan-catalog.js';

export interface McpDeps {
  config: Config;
  agents: AgentRegistry;
  catalog: CatalogEntry[];
  /** The engine; opened on the first call that needs it, so listing tools never waits for the store. */
  switchboard: () => Promise<Switchboard>;
  principal: Principal;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Progress notifications go out at least this often while a tool call works. */
  progressIntervalMs: number;
  /** `ask_*` calls that run longer return a handle to poll (config `mcp.askTimeoutMs`, see config.ts). */
  askTimeoutMs: number;
  /** Plan and approval tools are offered. */
  plans: boolean;
  /**
   * Aborted when this connection goes away on the server's side (stdin ended, SIGTERM, an HTTP
   * session closed): calls stop waiting and hand back what they have (a run_id to poll). Runs are
   * not cancelled — they are in the store, and this process or the next one carries them on.
   */
  shutdown?: AbortSignal;
  /** A tool call starts; the function returned is called when it ends (HTTP sessions with calls in flight are not idle). */
  onToolCall?: () => () => void;
}

/** Default heartbeat: hosts with a 60 s timeout that resets on progress keep waiting. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;

/** The progress interval from `SWITCHBOARD_MCP_PROGRESS_MS` (tests use ~100 ms), else the default. */
export function progressIntervalFrom(env: NodeJS.ProcessEnv): number {
  const n = Number(env.SWITCHBOARD_MCP_PROGRESS_MS);
  return Number.isFinite(n) && n >= 10 ? Math.min(n, 10_000) : DEFAULT_PROGRESS_INTERVAL_MS;
}

/**
 * The agents, the tool list and the MCP settings a config yields, without opening the engine. A
 * mistake in the `mcp:` section is a ConfigError here, at start-up, naming its file and line.
 */
export function describeDeployment(config: Config): { agents: AgentRegistry; catalog: CatalogEntry[]; plans: boolean; settings: McpConfig } {
  const settings = mcpConfig(config);
  const annotations = new Map<string, ToolAnnotations | undefined>(builtinTools.map((t) => [t.name, t.annotations]));
  // The engine's own tools (ENGINE_TOOL_NAMES): delegation and plans; neither destroys anything itself.
  annotations.set('send_message', { readOnly: false, openWorld: true });
  annotations.set('create_plan', { readOnly: false, openWorld: true });
  const agents = AgentRegistry.fromConfig(config, knownToolNames());
  const maxMessageChars = config.limits.maxMessageChars;
  const plans = agents.planner !== undefined;
  const catalog = buildCatalog(agents, { maxMessageChars, toolAnnotations: annotations, planTools: plans ? planCatalog(maxMessageChars) : [] });
  return { agents, catalog, plans, settings };
}

/** Memoizes an async open; a failed open is retried on the next call instead of being cached. */
export function lazy<T>(open: () => Promise<T>): { get: () => Promise<T>; peek: () => Promise<T> | undefined } {
  let pending: Promise<T> | undefined;
  return {
    get() {
      pending ??= open().catch((err: unknown) => {
        pending = undefined;
        throw err;
      });
      return pending;
    },
    peek: () => pending,
  };
}

/** The principal of `switchboard mcp`: one local user, named by `SWITCHBOARD_MCP_USER` if set. */
export function stdioPrincipal(env: NodeJS.ProcessEnv): Principal {
  return { surface: 'mcp', userId: env.SWITCHBOARD_MCP_USER?.trim() || 'stdio' };
}

/** The surface key of a new MCP conversation: `mcp:<principal>:<id>`. */
export function newConversationKey(principal: Principal): string {
  return `mcp:${principalId(principal)}:${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}

/**
 * The folder relative paths of the config (store, workspaces) resolve against in `switchboard mcp`.
 * Hosts start it in a folder of their choosing — often `/`, which nobody can write — so: the config
 * file's folder when there is one, else the working directory when writable, else the home folder.
 */
export function stdioBaseDir(opts: { configFile?: string; cwd: string; home: string }): string {
  if (opts.configFile) return dirname(opts.configFile);
  try {
    accessSync(opts.cwd, constants.W_OK);
    if (opts.cwd !== parse(opts.cwd).root) return opts.cwd;
  } catch {
    // not writable: fall through to the home folder
  }
  return opts.home;
}
