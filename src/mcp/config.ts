/**
 * The `mcp:` section of the config, validated here rather than by the core (see `adapterSection`):
 * a mistake names the file, the line and the path, e.g. `switchboard.yaml:9 mcp.askTimeoutMs: ...`.
 */
import { z } from 'zod';
import { adapterSection, type Config } from '../index.js';

export const McpConfigSchema = z
  .strictObject({
    /** `ask_*` calls running longer than this return a handle to poll instead of hanging. */
    askTimeoutMs: z.number().int().positive().default(50_000),
    /** Bearer tokens by principal id (`alice` is mcp:alice; `cli:bob`, `slack:T1:U2`), required when `serve` binds beyond loopback. */
    tokens: z
      .record(
        z.string().regex(/^[^:\s]+(:[^:\s]+)*$/, 'must be a principal id: alice, cli:alice or slack:T1:U123'),
        z.string().min(16, 'tokens must be at least 16 characters'),
      )
      .default({}),
    /** `serve`: a session with no request for this long (and no tool call in flight) is closed. */
    sessionIdleMs: z.number().int().min(1_000).default(600_000),
    /** `serve`: sessions one principal may hold; one more closes its least recently used idle one. */
    maxSessionsPerPrincipal: z.number().int().positive().default(32),
  })
  .prefault({});
export type McpConfig = z.output<typeof McpConfigSchema>;

/** The MCP settings of a config; a ConfigError (with the file and line) when the section is wrong. */
export function mcpConfig(config: Config): McpConfig {
  return adapterSection(config, 'mcp', McpConfigSchema);
}
