/**
 * The tools the MCP face offers, derived from the agents of the deployment: one `ask_<agent>` per
 * specialist, `ask_team` for the proxy, and the run (and plan) tools. Pure data — no MCP SDK here —
 * so `switchboard mcp` can answer `tools/list` before the SDK has loaded (see stdio.ts), and the
 * SDK server registers exactly the same list (server.ts).
 */
import { z } from 'zod';
import type { AgentRegistry, AgentSpec, ToolAnnotations as CoreToolAnnotations } from '../index.js';
import { askInput, CancelRunInput, GetRunInput, RunOutputSchema } from './schemas.js';

/** MCP tool annotations (hints a host may show or use to decide on confirmation). */
export interface McpToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export type ToolKind =
  | { type: 'ask'; agent: string }
  | { type: 'get_run' }
  | { type: 'cancel_run' }
  | { type: 'plan'; name: PlanToolName };

export type PlanToolName = 'plan_task' | 'get_plan' | 'approve_step' | 'reject_step' | 'cancel_plan' | 'decide_approval';

export interface CatalogEntry {
  name: string;
  title: string;
  description: string;
  input: z.ZodObject;
  output?: z.ZodObject;
  annotations: McpToolAnnotations;
  kind: ToolKind;
}

export interface CatalogOptions {
  /** Longest accepted message (config `limits.maxMessageChars`). */
  maxMessageChars: number;
  /** Annotations of the tools agents may call, by tool name (built-ins plus any registered in code). */
  toolAnnotations: ReadonlyMap<string, CoreToolAnnotations | undefined>;
  /** Extra plan and approval tools, when the engine has plans and a planner agent exists. */
  planTools?: CatalogEntry[];
}

export const TEAM_TOOL = 'ask_team';
export const askToolName = (agent: string): string => `ask_${agent}`;

const CONTINUE_HINT =
  'Returns { conversation_id, agent, reply, usage }. Pass conversation_id back to continue the same conversation: the agent remembers it. ' +
  'Work that takes longer than the server\'s limit returns status "in_progress" with a run_id to poll with get_run.';

export function buildCatalog(agents: AgentRegistry, opts: CatalogOptions): CatalogEntry[] {
  const input = askInput(opts.maxMessageChars);
  const entries: CatalogEntry[] = [];
  const proxy = agents.proxy;
  entries.push({
    name: TEAM_TOOL,
    title: 'Ask the Switchboard team',
    description: `${proxy.description} ${CONTINUE_HINT}`,
    input,
    output: RunOutputSchema,
    annotations: askAnnotations(agents, proxy, opts.toolAnnotations, 'Ask the Switchboard team'),
    kind: { type: 'ask', agent: proxy.name },
  });
  for (const agent of agents.specialists()) {
    const title = `Ask ${agent.name}`;
    entries.push({
      name: askToolName(agent.name),
      title,
      description: `${agent.description} ${CONTINUE_HINT}`,
      input,
      output: RunOutputSchema,
      annotations: askAnnotations(agents, agent, opts.toolAnnotations, title),
      kind: { type: 'ask', agent: agent.name },
    });
  }
  entries.push(
    {
      name: 'get_run',
      title: 'Get a run',
      description:
        'Status of work an ask_* tool handed back as "in_progress" or "requires_action": the reply and usage once completed, the error if it failed. ' +
        'wait_seconds waits for the end first.',
      input: GetRunInput,
      output: RunOutputSchema,
      annotations: { title: 'Get a run', readOnlyHint: true, openWorldHint: false },
      kind: { type: 'get_run' },
    },
    {
      name: 'cancel_run',
      title: 'Cancel a run',
      description: 'Stops work an ask_* tool started (and the delegations under it). The conversation keeps what was said so far.',
      input: CancelRunInput,
      output: RunOutputSchema,
      annotations: { title: 'Cancel a run', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      kind: { type: 'cancel_run' },
    },
  );
  entries.push(...(opts.planTools ?? []));
  return entries;
}

/**
 * The truth about an agent as a tool: it writes to its thread (never read-only), reaches the model
 * API (open world), and is destructive when any tool it may use — directly or through delegation —
 * is.
 */
function askAnnotations(
  agents: AgentRegistry,
  agent: AgentSpec,
  tools: ReadonlyMap<string, CoreToolAnnotations | undefined>,
  title: string,
): McpToolAnnotations {
  const seen = new Set<string>();
  let destructive = false;
  const visit = (a: AgentSpec) => {
    if (seen.has(a.name)) return;
    seen.add(a.name);
    for (const tool of a.tools) {
      if (tool === 'send_message') {
        for (const other of agents.list()) if (other.role === 'specialist') visit(other);
        continue;
      }
      if (tools.get(tool)?.destructive) destructive = true;
    }
  };
  visit(agent);
  return { title, readOnlyHint: false, destructiveHint: destructive, idempotentHint: false, openWorldHint: true };
}

const schemaCache = new WeakMap<z.ZodObject, Partial<Record<'input' | 'output', Record<string, unknown>>>>();

/** The JSON Schema of a zod object exactly as the SDK's McpServer lists it (draft-7); cached, as every ask tool shares one. */
export function jsonSchemaOf(schema: z.ZodObject, io: 'input' | 'output'): Record<string, unknown> {
  let cached = schemaCache.get(schema);
  if (!cached) schemaCache.set(schema, (cached = {}));
  return (cached[io] ??= z.toJSONSchema(schema, { target: 'draft-7', io }) as Record<string, unknown>);
}

/** The `tools/list` result, byte-for-byte what McpServer answers for the same entries. */
export function listToolsResult(entries: readonly CatalogEntry[]): { tools: Record<string, unknown>[] } {
  return {
    tools: entries.map((e) => ({
      name: e.name,
      title: e.title,
      description: e.description,
      inputSchema: jsonSchemaOf(e.input, 'input'),
      annotations: e.annotations,
      // What registerTool sets for a plain (non-task) tool.
      execution: { taskSupport: 'forbidden' },
      ...(e.output ? { outputSchema: jsonSchemaOf(e.output, 'output') } : {}),
    })),
  };
}
