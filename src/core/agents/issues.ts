/**
 * Config mistakes as people read them: one line per mistake, `file:line path: what is wrong` when the
 * config came from a file, `path: what is wrong` when it was given in code. Shared by the core's own
 * sections (load.ts) and the adapters' sections (sections.ts), so both read the same.
 */
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

/** Where a config came from: its file, and the line of a path inside it. */
export interface ConfigSource {
  file: string;
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

export interface Issue {
  path: PropertyKey[];
  message: string;
}

/** One zod issue as people read it; unknown keys become one issue per key, at the key. */
export function explainIssue(issue: z.core.$ZodIssue): Issue[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }));
  if (issue.code === 'invalid_key') {
    const why = issue.issues.map((i) => i.message).join('; ');
    const what = issue.path[0] === 'agents' ? 'a valid agent name' : 'a valid key here';
    return [{ path: issue.path, message: `"${String(issue.path.at(-1))}" is not ${what}: it ${why}` }];
  }
  return [{ path: issue.path, message: describeIssue(issue) }];
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return `is required (${issue.expected})`;
  return issue.message;
}

const pathText = (path: readonly PropertyKey[]) => path.map(String).join('.') || '(top level)';

/** The ConfigError for `issues`: each at its file and line when `source` is known. */
export function invalidConfig(issues: readonly Issue[], source?: ConfigSource): ConfigError {
  if (!source) {
    const plain = issues.map((i) => ({ path: pathText(i.path), message: i.message }));
    return new ConfigError(`Invalid config:\n${plain.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, { issues: plain });
  }
  const { file } = source;
  const located = issues.map((i) => ({ path: pathText(i.path), message: i.message, line: source.lineOf(i.path) }));
  const lines = located.map((i) => `  ${file}${i.line ? ':' + i.line : ''} ${i.path}: ${i.message}`);
  return new ConfigError(`Invalid config ${file}:\n${lines.join('\n')}`, { file, issues: located });
}
