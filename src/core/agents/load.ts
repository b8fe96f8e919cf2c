import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ConfigSchema, type Config, type ConfigInput } from './spec.js';

export const CONFIG_FILE_NAMES = ['switchboard.yaml', 'switchboard.yml', 'switchboard.json'] as const;

/** Where the config comes from: an explicit path, SWITCHBOARD_CONFIG, or a file in the working directory. */
export function findConfigFile(opts: { path?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string | undefined {
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.path ?? opts.env?.SWITCHBOARD_CONFIG;
  if (explicit) {
    const file = resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigError(`Config file not found: ${file}`, { file });
    return file;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * Loads and validates a config file. Errors name the file, the line, the path inside it and what
 * is wrong, e.g. `switchboard.yaml:7 agents.vision.model: expected string, received number`.
 * `${VAR}` and `${VAR:-fallback}` in strings are replaced from the environment.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${file}: ${(err as Error).message}`, { file });
  }
  return parseConfigText(text, file, env);
}

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new ConfigError(`${file}${line ? ':' + line : ''}: ${e.message.split('\n')[0]}`, { file });
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${file}: the top level must be a mapping (agents:, providers:, ...)`, { file });
  }
  const expanded = expandEnv(raw, env);
  const parsed = ConfigSchema.safeParse(expanded);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String);
    const node = doc.getIn(issue.path as (string | number)[], true);
    const offset = isNode(node) && node.range ? node.range[0] : undefined;
    const line = offset !== undefined ? lineCounter.linePos(offset).line : undefined;
    return { path: path.join('.') || '(top level)', message: describeIssue(issue), line };
  });
  const lines = issues.map((i) => `  ${file}${i.line ? ':' + i.line : ''} ${i.path}: ${i.message}`);
  throw new ConfigError(`Invalid config ${file}:\n${lines.join('\n')}`, { file, issues });
}

/** Validates a config given in code (no file). */
export function parseConfig(input: ConfigInput | undefined): Config {
  const parsed = ConfigSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(top level)', message: describeIssue(i) }));
  throw new ConfigError(`Invalid config:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, { issues });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function expandEnv(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') return value.replace(ENV_REF, (_m, name: string, fallback?: string) => env[name] ?? fallback ?? '');
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env)]));
  }
  return value;
}
