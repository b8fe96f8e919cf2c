import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { findConfigFile, loadConfigFile, parseConfig } from '../core/agents/load.js';
import type { Config } from '../core/agents/spec.js';
import { SwitchboardError } from '../core/errors.js';
import { createLogger, type LogLevel } from '../core/logger.js';
import { checkProviders } from '../core/model/setup.js';
import type { Switchboard, SwitchboardOptions } from '../core/switchboard.js';
import type { Principal } from '../core/store/types.js';

/** A failure the CLI reports as one line and an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Engine errors that mean "fix the command or the configuration" (exit 2), not "it failed" (exit 1). */
const USAGE_ERRORS = new Set(['config_invalid', 'model_not_configured', 'invalid_input', 'unknown_agent']);

/** Prints an error as a person should read it and returns the exit code. */
export function printError(err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof SwitchboardError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    return USAGE_ERRORS.has(err.code) ? 2 : 1;
  }
  if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`switchboard: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

export const commonOptions = {
  config: { type: 'string' },
  conversation: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Parses a subcommand's arguments: the common options plus its own, strictly (unknown flags are errors). */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, allowPositionals = true) {
  const config = { args: argv, options: { ...commonOptions, ...options }, allowPositionals, strict: true } as const;
  return parseArgs(config) as ReturnType<typeof parseArgs<typeof config>>;
}

/** The person at the terminal. */
export function cliPrincipal(env: NodeJS.ProcessEnv = process.env): Principal {
  let user = env.SWITCHBOARD_USER;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'local';
    }
  }
  return { surface: 'cli', userId: user };
}

export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env, tools: Iterable<string> = []): Config {
  const file = findConfigFile({ path, env });
  return file ? loadConfigFile(file, env, { tools }) : parseConfig({});
}

/**
 * Opens the engine for a command. Refuses up front, with what to set, when no model provider the
 * agents need is configured.
 */
export async function openSwitchboard(
  opts: { config?: string; needsModel?: boolean; verbose?: boolean } & Partial<SwitchboardOptions>,
): Promise<Switchboard> {
  const env = opts.env ?? process.env;
  // stderr is for the person at the terminal: a run's failure is reported once, as one line, by the
  // command. Engine warnings (a retried model call) show with --verbose or SWITCHBOARD_LOG_LEVEL.
  const logger = opts.logger ?? createLogger({ level: logLevel(env.SWITCHBOARD_LOG_LEVEL) ?? (opts.verbose ? 'warn' : 'error') });
  const config = loadConfig(
    opts.config,
    env,
    (opts.tools ?? []).map((t) => t.name),
  );
  if (opts.needsModel !== false && !opts.model) {
    const problem = checkProviders(config, env);
    if (problem) throw new CliError(problem, 2);
  }
  // Loaded here, not at the top: commands that never open the engine (mcp's fast path, agents, --help) start faster.
  const { createSwitchboard } = await import('../core/switchboard.js');
  return createSwitchboard({ ...opts, config, env, logger });
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
function logLevel(value: string | undefined): LogLevel | undefined {
  return LOG_LEVELS.find((l) => l === value?.trim().toLowerCase());
}

/** `cli:NAME` for a named conversation; a fresh name otherwise. */
export function conversationKey(name: string | undefined): string {
  return `cli:${name ?? new Date().toISOString().replace(/[:.]/g, '-')}`;
}
