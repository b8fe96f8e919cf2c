/**
 * Adapter sections of the config (`mcp:`, `slack:`, `teams:`): the core keeps them as they were written
 * and each adapter validates its own with `adapterSection`, so a new surface needs no change to the
 * core's schema. A config read from a file remembers where it came from, so an adapter's mistakes
 * name the file and the line just like the core's do.
 */
import type { z } from 'zod';
import type { Config } from './spec.js';
import { explainIssue, invalidConfig, type ConfigSource } from './issues.js';

/** The sections the core keeps for adapters, unvalidated. */
export const ADAPTER_SECTIONS = ['mcp', 'slack', 'teams'] as const;
export type AdapterSectionName = (typeof ADAPTER_SECTIONS)[number];

// Beside the config, not on it: the config stays plain data (JSON.stringify, structuredClone, equality in tests).
const sources = new WeakMap<object, ConfigSource>();

/** Records that `config` was read from `source` (the loader calls this). */
export function rememberSource(config: object, source: ConfigSource): void {
  sources.set(config, source);
}

/** The file a config was read from, with its line map; undefined for a config given in code. */
export function configSource(config: object): ConfigSource | undefined {
  return sources.get(config);
}

/**
 * Validates an adapter's section of the config with the adapter's schema and returns the result.
 * The section is `undefined` when the config has none (a schema with `.prefault({})` gives its
 * defaults then). A mistake is a ConfigError naming each problem by its path, e.g.
 * `switchboard.yaml:12 mcp.tokens.alice: tokens must be at least 16 characters`.
 */
export function adapterSection<S extends z.ZodType>(config: Config, name: AdapterSectionName, schema: S): z.output<S> {
  const parsed = schema.safeParse((config as Record<string, unknown>)[name]);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.flatMap(explainIssue).map((i) => ({ ...i, path: [name, ...i.path] }));
  throw invalidConfig(issues, configSource(config));
}
