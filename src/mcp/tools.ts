/**
 * `tools/list` and `tools/call` on the SDK's low-level Server, from the catalog. Not McpServer's
 * `registerTool`: that turns every failure — an unknown tool name included — into a tool result
 * with `isError`, while the spec answers an unknown tool with the JSON-RPC error -32602 ("Unknown
 * tool"). Owning the two handlers also means the list is `listToolsResult`, the very answer the
 * stdio fast path gives, and the argument errors name what is missing instead of zod's wording.
 *
 * The two error channels (STYLE.md): a name that is not a tool is a protocol error; arguments that
 * do not fit, and anything the call itself runs into, are tool results with `isError`, which the
 * model reads and corrects (the spec asks input validation errors to come back this way).
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { type Logger, SwitchboardError } from '../index.js';
import type { Extra } from './ask.js';
import { listToolsResult, TEAM_TOOL, type CatalogEntry } from './catalog.js';
import { serverCapabilities } from './info.js';

export type ToolHandler = (args: Record<string, unknown>, extra: Extra) => Promise<CallToolResult>;

/** Registers the catalog's tools; call before `connect` (capabilities are fixed then). */
export interface RegisterToolsOptions {
  logger: Logger;
  /** See McpDeps.onToolCall. */
  onToolCall?: () => () => void;
}

export function registerTools(server: McpServer, entries: readonly CatalogEntry[], handlerOf: (e: CatalogEntry) => ToolHandler, opts: RegisterToolsOptions): void {
  const { logger } = opts;
  const byName = new Map(entries.map((e) => [e.name, { entry: e, handler: handlerOf(e) }]));
  const listed = listToolsResult(entries);
  const low = server.server;
  low.registerCapabilities({ tools: serverCapabilities().tools });
  low.setRequestHandler(ListToolsRequestSchema, () => listed);
  low.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const name = request.params.name;
    const tool = byName.get(name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}. The tools are: ${[...byName.keys()].join(', ')}.`);
    const parsed = tool.entry.input.safeParse(request.params.arguments ?? {}, { reportInput: true });
    if (!parsed.success) return toolError(`Invalid arguments for ${name}: ${describeIssues(tool.entry, parsed.error)}`);
    let result: CallToolResult;
    const ended = opts.onToolCall?.();
    try {
      result = await tool.handler(parsed.data as Record<string, unknown>, extra);
    } catch (err) {
      if (!(err instanceof SwitchboardError)) logger.error('MCP tool failed', { tool: name, error: err });
      return toolError(err instanceof Error ? err.message : String(err));
    } finally {
      ended?.();
    }
    // What McpServer checked for us: a tool with an output schema returns content that fits it.
    if (tool.entry.output && !result.isError) {
      const out = tool.entry.output.safeParse(result.structuredContent);
      if (!out.success) {
        logger.error('MCP tool returned output its schema does not allow', { tool: name, error: out.error });
        return toolError(`Internal error: ${name} produced an answer that does not fit its output schema.`);
      }
    }
    return result;
  });
}

function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * One sentence per problem, each naming the field: a missing field says it is required and what it
 * is for (the ask tools: whom the text goes to); anything else keeps the schema's own message.
 */
export function describeIssues(entry: CatalogEntry, error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || 'arguments';
    if (issue.code === 'invalid_type' && issue.input === undefined) return `${field} is required: ${purposeOf(entry, field)}`;
    return issue.message.startsWith(field) ? issue.message : `${field}: ${issue.message}`;
  });
  return lines.join('; ');
}

function purposeOf(entry: CatalogEntry, field: string): string {
  if (entry.kind.type === 'ask' && field === 'message') {
    return `the text to send to ${entry.name === TEAM_TOOL ? 'the team' : entry.kind.agent} (what you want done or answered).`;
  }
  const described = (entry.input.shape as Record<string, z.ZodType | undefined>)[field]?.description;
  return described ?? 'see the tool\'s input schema.';
}
