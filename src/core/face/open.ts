import type { Switchboard, SwitchboardOptions } from '../switchboard.js';

/**
 * Builds the engine once; every adapter (CLI, MCP, bots) shares the result. The face's entry to
 * `createSwitchboard` (core/switchboard.ts): the engine's modules (runs, plans, approvals, the model
 * client) load on this first call rather than when the face is imported, so a command that only
 * reads its config (`switchboard mcp` answering `tools/list`, `agents`, `--help`) starts without them.
 */
export async function createSwitchboard(options: SwitchboardOptions = {}): Promise<Switchboard> {
  const engine = await import('../switchboard.js');
  return engine.createSwitchboard(options);
}
