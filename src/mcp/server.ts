/**
 * The MCP server over the core: one McpServer per connection (stdio process or HTTP session),
 * with the catalog's tools (tools.ts) and the resources. Errors the caller can act on (unknown
 * conversation, oversized message, model not configured) come back as tool errors with the core's
 * message; unexpected ones are logged to stderr too; an unknown tool name is a JSON-RPC error.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InternalError } from '../index.js';
import { inlineApprover } from './approvals.js';
import { askAgent, cancelRun, getRun, type AskArgs, type InlineApprover } from './ask.js';
import type { CatalogEntry } from './catalog.js';
import type { McpDeps } from './context.js';
import { serverInfo, serverInstructions } from './info.js';
import { planHandlers, registerPlanResources } from './plans.js';
import { registerResources } from './resources.js';
import { registerTools, type ToolHandler } from './tools.js';

/** Handlers beyond the run tools (plan and approval tools), by tool name. */
type ExtraHandlers = Partial<Record<string, ToolHandler>>;

export function createMcpServer(deps: McpDeps): McpServer {
  const server = new McpServer(serverInfo(), {
    capabilities: { logging: {} },
    instructions: serverInstructions({ plans: deps.plans }),
  });
  const extraHandlers: ExtraHandlers = deps.plans ? planHandlers(server, deps) : {};
  const approver = inlineApprover(server, deps);
  registerTools(server, deps.catalog, (entry) => handlerFor(deps, entry, extraHandlers, approver), { logger: deps.logger, onToolCall: deps.onToolCall });
  registerResources(server, deps);
  if (deps.plans) registerPlanResources(server, deps);
  server.server.onerror = (err) => deps.logger.debug('MCP protocol error', { error: err });
  return server;
}

function handlerFor(deps: McpDeps, entry: CatalogEntry, extra: ExtraHandlers, approver: InlineApprover): ToolHandler {
  const kind = entry.kind;
  switch (kind.type) {
    case 'ask':
      return (args, ex) => askAgent(deps, kind.agent, args as unknown as AskArgs, ex, approver);
    case 'get_run':
      return (args, ex) => getRun(deps, args as { run_id: string; wait_seconds?: number }, ex);
    case 'cancel_run':
      return (args) => cancelRun(deps, args as { run_id: string });
    case 'plan': {
      const handler = extra[entry.name];
      if (!handler) throw new InternalError(`No handler for MCP tool ${entry.name}`);
      return handler;
    }
  }
}
