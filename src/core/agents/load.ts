import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type * as Yaml from 'yaml';
import type { Document, LineCounter } from 'yaml';
import { ConfigError } from '../errors.js';
import { knownToolNames } from '../tools/index.js';
import { describeIssue, explainIssue, invalidConfig, type ConfigSource, type Issue } from './issues.js';
import { AgentRegistry } from './registry.js';
import { configSource, rememberSource } from './sections.js';
import { ConfigSchema, type Config, type ConfigInput } from './spec.js';

// The YAML parser is loaded on the first file read, not at start-up: `switchboard mcp` without a
// config file must answer its host fast. `require` keeps loading synchronous, like the rest of this file.
const require = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
const yaml = (): typeof Yaml => (yamlModule ??= require('yaml') as typeof Yaml);

export const CONFIG_FILE_NAMES = ['switchboard.yaml', 'switchboard.yml', 'switchboard.json'] as const;

// Limits that keep a hostile or mistaken file from taking the process down. A real config is a few
// kilobytes, nested five levels deep, with a handful of aliases.
/** Bytes read from a config file at most. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * Open brackets (`[`, `{`) nested at most. The YAML parser recurses per level: a thousand levels
 * take it half a second, a hundred thousand (200 KB of `[`) run it out of memory.
 */
const MAX_FLOW_DEPTH = 64;
/** Columns of indentation at most: block nesting recurses the same way. */
const MAX_INDENT = 256;
/** Alias expansions at most (the `yaml` package's default, made explicit): stops a "billion laughs" document. */
const MAX_ALIAS_COUNT = 100;

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

/** Options for loading a config file. */
export interface LoadConfigOptions {
  /** Names of tools registered in code (`createSwitchboard({ tools })`) that agents may name besides the built-ins. */
  tools?: Iterable<string>;
}

/**
 * Loads and validates a config file. Errors name the file, the line, the path inside it and what
 * is wrong, e.g. `switchboard.yaml:7 agents.vision.model: expected string, received number`.
 * `${VAR}` and `${VAR:-fallback}` in strings are replaced from the environment. The agents are
 * checked as they will be used (merged with the built-ins, exactly one proxy, known tools), so those
 * mistakes point at their line too.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): Config {
  return parseConfigText(readConfigText(file), file, env, opts);
}

/** The file's text, read no further than the size limit (it may be a device or a pipe that never ends). */
function readConfigText(file: string): string {
  const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
  let size = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    for (let n = -1; n !== 0 && size < buf.length; size += n) n = readSync(fd, buf, size, buf.length - size, null);
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${file}: ${(err as Error).message}`, { file });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (size > MAX_CONFIG_BYTES) throw tooLarge(file);
  return buf.toString('utf8', 0, size);
}

const tooLarge = (file: string) =>
  new ConfigError(`${file}: too large: a config file may have at most ${MAX_CONFIG_BYTES / 1024} KiB (is this the right file?)`, { file });

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): Config {
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw tooLarge(file);
  const deep = tooDeep(text);
  if (deep) throw new ConfigError(`${file}:${deep.line}: ${deep.message}`, { file, issues: [{ path: '(syntax)', message: deep.message }] });
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    // `linePos` is only filled in with prettyErrors; the offset always is.
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
    throw new ConfigError(`${file}:${line}: ${e.message.split('\n')[0]}`, { file, issues: [{ path: '(syntax)', message: e.message.split('\n')[0]! }] });
  }
  const raw: unknown = toJS(doc, lineCounter, file) ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${file}: the top level must be a mapping (agents:, providers:, ...)`, { file });
  }
  const expanded = expandEnv(raw, env);
  const parsed = ConfigSchema.safeParse(expanded);
  const source: ConfigSource = { file, lineOf: (path) => lineOf(doc, lineCounter, path) };
  const fail = (issues: Issue[]): never => {
    throw invalidConfig(issues, source);
  };
  if (!parsed.success) return fail(parsed.error.issues.flatMap(explainIssue));
  try {
    AgentRegistry.fromConfig(parsed.data, knownToolNames(opts.tools));
  } catch (err) {
    if (err instanceof ConfigError && err.issues.length > 0) return fail(err.issues.map((i) => ({ path: i.path.split('.'), message: i.message })));
    throw err;
  }
  // Adapters validate their sections later (adapterSection); their mistakes point at this file too.
  rememberSource(parsed.data, source);
  return parsed.data;
}

/**
 * Nesting deeper than a config needs, found in the text before the parser recurses into it.
 * Brackets are counted everywhere, also inside quotes and comments: prose does not open 64 of them.
 */
function tooDeep(text: string): { line: number; message: string } | undefined {
  let depth = 0;
  let line = 1;
  let indent = 0;
  let atLineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      indent = 0;
      atLineStart = true;
      continue;
    }
    if (atLineStart) {
      if (c === 32) {
        if (++indent > MAX_INDENT) return { line, message: `nested too deeply: indented more than ${MAX_INDENT} columns` };
        continue;
      }
      atLineStart = false;
    }
    if (c === 91 || c === 123) {
      if (++depth > MAX_FLOW_DEPTH) return { line, message: `nested too deeply: more than ${MAX_FLOW_DEPTH} levels of [ ] or { }` };
    } else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return undefined;
}

/** The document as plain data; an alias bomb or an alias that resolves to nothing is a ConfigError at the first alias. */
function toJS(doc: Document, lineCounter: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const { visit } = yaml();
    let line: number | undefined;
    visit(doc, {
      Alias: (_key, node) => {
        if (node.range) line = lineCounter.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    const excessive = /excessive alias count/i.test((err as Error).message);
    const message = excessive
      ? `too many aliases: expanding its anchors would repeat data more than ${MAX_ALIAS_COUNT} times (a "billion laughs" document?)`
      : (err as Error).message.split('\n')[0]!;
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: ${message}`, { file, issues: [{ path: '(syntax)', message }] });
  }
}

/**
 * The line of `path` in the document: the line of its key, or of the deepest part of the path
 * that exists (a missing field points at the object that lacks it).
 */
function lineOf(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  const { isMap, isNode, isScalar, isSeq } = yaml();
  let node: unknown = doc.contents;
  let line = isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  for (const segment of path) {
    let next: unknown;
    let at: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      if (!pair) break;
      at = pair.key;
      next = pair.value;
    } else if (isSeq(node)) {
      next = node.items[Number(segment)];
      at = next;
    } else break;
    if (isNode(at) && at.range) line = lineCounter.linePos(at.range[0]).line;
    node = next;
  }
  return line;
}

/** Validates a config given in code (no file). */
export function parseConfig(input: ConfigInput | undefined): Config {
  const parsed = ConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw invalidConfig(parsed.error.issues.map((i) => ({ path: i.path, message: describeIssue(i) })));
  // A config read from a file, validated again (createSwitchboard does), still knows its file.
  const source = input && typeof input === 'object' ? configSource(input) : undefined;
  if (source) rememberSource(parsed.data, source);
  return parsed.data;
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
