import { ConfigError, UnknownAgentError } from '../errors.js';
import { builtinAgents } from './defaults.js';
import { AgentSpecSchema, type AgentSpec, type Config } from './spec.js';

/**
 * The agents of one deployment: built-ins merged with the config file's (by name), with model,
 * provider, budget and turn limits resolved from `defaults`. Immutable once built.
 */
export class AgentRegistry {
  readonly #agents: Map<string, AgentSpec>;

  constructor(agents: AgentSpec[]) {
    this.#agents = new Map(agents.map((a) => [a.name, a]));
  }

  static fromConfig(config: Config, knownTools: ReadonlySet<string>): AgentRegistry {
    const merged: Record<string, unknown> = {};
    if (config.builtinAgents) for (const [name, spec] of Object.entries(builtinAgents)) merged[name] = { ...spec, name };
    for (const [name, spec] of Object.entries(config.agents)) {
      if (spec.name !== undefined && spec.name !== name) {
        throw new ConfigError(`agents.${name}.name: "${spec.name}" differs from its key "${name}"; drop the name field or make them equal`);
      }
      const base = (merged[name] as object | undefined) ?? {};
      merged[name] = { ...base, ...stripUndefined(spec), name };
    }
    const agents: AgentSpec[] = [];
    for (const [name, raw] of Object.entries(merged)) {
      const parsed = AgentSpecSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ConfigError(`agents.${name}.${issue.path.join('.')}: ${issue.message}`, {
          issues: [{ path: `agents.${name}.${issue.path.join('.')}`, message: issue.message }],
        });
      }
      const spec = parsed.data;
      for (const tool of spec.tools) {
        if (!knownTools.has(tool)) {
          throw new ConfigError(`agents.${name}.tools: unknown tool "${tool}". Known tools: ${[...knownTools].sort().join(', ')}`);
        }
      }
      agents.push({
        ...spec,
        model: spec.model ?? config.defaults.model,
        provider: spec.provider ?? config.defaults.provider,
        contextBudget: spec.contextBudget ?? config.defaults.contextBudget,
        maxTurns: spec.maxTurns ?? config.defaults.maxTurns,
      });
    }
    const proxies = agents.filter((a) => a.role === 'proxy');
    if (proxies.length !== 1) {
      throw new ConfigError(
        `agents: exactly one agent must have role "proxy" (found ${proxies.length}${proxies.length ? ': ' + proxies.map((p) => p.name).join(', ') : ''})`,
      );
    }
    return new AgentRegistry(agents);
  }

  get(name: string): AgentSpec {
    const agent = this.#agents.get(name);
    if (!agent) throw new UnknownAgentError(name, this.names());
    return agent;
  }

  has(name: string): boolean {
    return this.#agents.has(name);
  }

  names(): string[] {
    return [...this.#agents.keys()];
  }

  list(): AgentSpec[] {
    return [...this.#agents.values()];
  }

  get proxy(): AgentSpec {
    return this.list().find((a) => a.role === 'proxy')!;
  }

  get planner(): AgentSpec | undefined {
    return this.list().find((a) => a.role === 'planner');
  }

  /** Agents the proxy (or another agent) may delegate to. */
  specialists(): AgentSpec[] {
    return this.list().filter((a) => a.role === 'specialist');
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
