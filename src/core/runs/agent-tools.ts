import { z } from 'zod';
import type { AgentSpec, Config } from '../agents/spec.js';
import type { ToolSchema, Usage } from '../model/types.js';
import type { ToolDefinition } from './tool.js';

export interface ToolsOfAgent {
  tools: Map<string, ToolDefinition>;
  schemas: ToolSchema[];
  /** Roughly what the schemas cost in the context window. */
  tokens: number;
}

/** The tools each agent may call, with their JSON schemas, built once per agent. */
export class AgentTools {
  readonly #all: ReadonlyMap<string, ToolDefinition>;
  readonly #byAgent = new Map<string, ToolsOfAgent>();

  constructor(all: ReadonlyMap<string, ToolDefinition>) {
    this.#all = all;
  }

  for(agent: AgentSpec): ToolsOfAgent {
    let cached = this.#byAgent.get(agent.name);
    if (!cached) {
      const tools = new Map<string, ToolDefinition>();
      for (const name of agent.tools) {
        const tool = this.#all.get(name);
        if (tool) tools.set(name, tool);
      }
      const schemas = [...tools.values()].map((t) => ({
        name: t.name,
        description: t.description,
        parameters: z.toJSONSchema(t.parameters, { io: 'input' }) as Record<string, unknown>,
      }));
      cached = { tools, schemas, tokens: Math.ceil(JSON.stringify(schemas).length / 4) };
      this.#byAgent.set(agent.name, cached);
    }
    return cached;
  }
}

/** What a model call cost, from the configured prices per million tokens (0 for a model without one). */
export function costOf(config: Config, model: string, usage: Usage): number {
  const price = config.pricing[model];
  if (!price) return 0;
  return (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1_000_000;
}
