import type { z } from 'zod';
import { SwitchboardError, ToolError } from '../errors.js';
import type { ToolCall } from '../model/types.js';
import type { ToolContext, ToolDefinition, ToolResult } from './tool.js';

export type ParsedCall =
  | { ok: true; tool: ToolDefinition; args: unknown }
  | { ok: false; error: string };

/**
 * Turns a model's tool call into a validated call, or the error the model should read instead.
 * Unknown tools, broken JSON and arguments that do not match the schema are the model's mistakes:
 * they go back to it as tool errors and never fail the run.
 */
export function parseToolCall(call: ToolCall, tools: ReadonlyMap<string, ToolDefinition>): ParsedCall {
  const tool = tools.get(call.name);
  if (!tool) {
    return { ok: false, error: `Unknown tool "${call.name}". Available tools: ${[...tools.keys()].join(', ') || '(none)'}.` };
  }
  let raw: unknown;
  try {
    raw = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
  } catch (err) {
    return {
      ok: false,
      error: `The arguments for ${call.name} are not valid JSON (${(err as Error).message}). Call the tool again with a complete JSON object.`,
    };
  }
  const parsed = (tool.parameters as z.ZodType).safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`).join('; ');
    return { ok: false, error: `Invalid arguments for ${call.name}: ${problems}.` };
  }
  return { ok: true, tool, args: parsed.data };
}

/** Runs a validated call; a tool's own failure becomes an error result for the model. Aborts propagate. */
export async function executeTool(tool: ToolDefinition, args: unknown, ctx: ToolContext): Promise<ToolResult> {
  try {
    const out = await tool.execute(args, ctx);
    return typeof out === 'string' ? { content: out } : out;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    if (err instanceof ToolError) return { content: err.message, isError: true };
    if (err instanceof SwitchboardError) return { content: `${tool.name} failed: ${err.message}`, isError: true };
    ctx.logger.warn('tool threw', { tool: tool.name, error: err });
    return { content: `${tool.name} failed unexpectedly: ${(err as Error)?.message ?? String(err)}`, isError: true };
  }
}

export const INTERRUPTED_RESULT =
  'This tool call was interrupted (the engine restarted while it ran). It may or may not have taken effect: check its effect before calling it again.';
