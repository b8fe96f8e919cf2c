import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  checkProviders,
  createLogger,
  createSwitchboard,
  findConfigFile,
  loadConfigFile,
  parseConfig,
  SwitchboardError,
  type Config,
  type LogLevel,
  type Principal,
  type Switchboard,
  type SwitchboardOptions,
} from '../index.js';

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

/** The stack goes to the terminal only when asked for: `--verbose`, or SWITCHBOARD_LOG_LEVEL=debug. */
export function wantsStack(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--verbose') || argv.includes('-v') || logLevel(env.SWITCHBOARD_LOG_LEVEL) === 'debug';
}

/**
 * Prints an error as a person should read it — one line, `switchboard: ...` — and returns the exit
 * code. With `verbose`, the stack (and its causes) follow, for a bug report.
 */
export function printError(err: unknown, opts: { verbose?: boolean; out?: NodeJS.WritableStream } = {}): number {
  const out = opts.out ?? process.stderr;
  let code = 1;
  let message: string;
  if (err instanceof CliError) {
    message = err.message;
    code = err.exitCode;
  } else if (err instanceof SwitchboardError) {
    message = err.message;
    code = USAGE_ERRORS.has(err.code) ? 2 : 1;
  } else {
    // A bug or a failure nobody described: still one line, with where to look next.
    const text = err instanceof Error ? `${err.name}: ${oneLine(err.message)}` : oneLine(String(err));
    message = `unexpected error: ${text}${opts.verbose ? '' : ' (run again with --verbose for the details)'}`;
  }
  // Our own messages are written for people as they are (a config mistake may list one issue a line).
  out.write(`switchboard: ${message}\n`);
  // A usage mistake is explained by its message; a stack would only point into our own parser.
  if (opts.verbose && !(err instanceof CliError)) out.write(stackOf(err) + '\n');
  return code;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function stackOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e));
    e = e instanceof Error ? e.cause : undefined;
    if (e !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

export const commonOptions = {
  config: { type: 'string' },
  conversation: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a subcommand's arguments: the common options plus its own, strictly. Mistakes get a short
 * message of our own (exit 2), not the parser's.
 */
export function parse<O extends Options>(command: string, argv: string[], options: O, allowPositionals = true) {
  const all: Options = { ...commonOptions, ...options };
  const config = { args: argv, options: { ...commonOptions, ...options }, allowPositionals, strict: true } as const;
  const see = `(see switchboard ${command} --help)`;
  // Not strict: the tokens tell us what was wrong, in words that do not depend on the Node version.
  const { tokens } = parseArgs({ args: argv, options: all, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional' && !allowPositionals) {
      throw new CliError(`unexpected argument "${t.value}" for '${command}': it takes options only ${see}`, 2);
    }
    if (t.kind !== 'option') continue;
    const spec = all[t.name];
    if (!spec) throw new CliError(`unknown option ${t.rawName} for '${command}' ${see}`, 2);
    const name = t.rawName.startsWith('--') ? t.rawName : `--${t.name}`;
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-')))) {
      throw new CliError(`${name} needs a value for '${command}' ${see}`, 2);
    }
    if (spec.type === 'boolean' && t.value !== undefined) throw new CliError(`${name} takes no value for '${command}' ${see}`, 2);
  }
  return parseArgs(config) as ReturnType<typeof parseArgs<typeof config>>;
}

/**
 * Common options given before the command (`switchboard --config x.yaml run "hi"`) move after it.
 * Returns the command and its arguments; `--help`/`--version` stay where `main` looks for them.
 */
export function splitCommand(argv: string[]): { command: string | undefined; args: string[] } {
  const lead: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || ['--help', '-h', '--version', '-v'].includes(arg)) break;
    const [flag = '', inline] = arg.split(/=(.*)/s);
    const spec = (commonOptions as Options)[flag.replace(/^--/, '')];
    if (!flag.startsWith('--') || !spec) throw new CliError(`unknown option ${flag} before the command (see switchboard --help)`, 2);
    if (spec.type === 'boolean' || inline !== undefined) {
      lead.push(arg);
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('-')) throw new CliError(`${flag} needs a value (see switchboard --help)`, 2);
    lead.push(arg, value);
    i++;
  }
  const [command, ...rest] = argv.slice(i);
  return { command, args: [...lead, ...rest] };
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
