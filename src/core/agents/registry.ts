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

  /**
   * Merges the built-ins with the config's agents and checks the result. Every problem found is
   * reported at once, each with its path in the config (`agents.helper.tools.1`), so a loader that
   * knows the file can point at the line.
   */
  static fromConfig(config: Config, knownTools: ReadonlySet<string>): AgentRegistry {
    const problems: { path: string; message: string }[] = [];
    const merged: Record<string, unknown> = {};
    if (config.builtinAgents) for (const [name, spec] of Object.entries(builtinAgents)) merged[name] = { ...spec, name };
    for (const [name, spec] of Object.entries(config.agents)) {
      if (spec.name !== undefined && spec.name !== name) {
        problems.push({ path: `agents.${name}.name`, message: `"${spec.name}" differs from its key "${name}"; drop the name field or make them equal` });
      }
      const base = (merged[name] as object | undefined) ?? {};
      merged[name] = { ...base, ...stripUndefined(spec), name };
    }
    const agents: AgentSpec[] = [];
    for (const [name, raw] of Object.entries(merged)) {
      const parsed = AgentSpecSchema.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) problems.push({ path: ['agents', name, ...issue.path.map(String)].join('.'), message: issue.message });
        continue;
      }
      const spec = parsed.data;
      spec.tools.forEach((tool, i) => {
        if (!knownTools.has(tool)) {
          problems.push({ path: `agents.${name}.tools.${i}`, message: `unknown tool "${tool}". Known tools: ${[...knownTools].sort().join(', ')}` });
        }
      });
      agents.push({
        ...spec,
        model: spec.model ?? config.defaults.model,
        provider: spec.provider ?? config.defaults.provider,
        contextBudget: spec.contextBudget ?? config.defaults.contextBudget,
        maxTurns: spec.maxTurns ?? config.defaults.maxTurns,
      });
    }
    const proxies = agents.filter((a) => a.role === 'proxy');
    if (problems.length === 0 && proxies.length === 0) {
      problems.push({
        path: config.builtinAgents ? 'agents' : 'builtinAgents',
        message: config.builtinAgents
          ? 'no agent has role "proxy": exactly one must talk with the user'
          : 'is false, so the built-in proxy is left out: give exactly one of your agents role: proxy',
      });
    } else if (proxies.length > 1) {
      const names = proxies.map((p) => p.name).join(', ');
      // Point at the proxies the config declares (a built-in proxy has no line of its own).
      const declared = proxies.filter((p) => config.agents[p.name]?.role === 'proxy');
      for (const p of declared.length ? declared : proxies) {
        problems.push({ path: `agents.${p.name}.role`, message: `exactly one agent may have role "proxy" (found ${proxies.length}: ${names})` });
      }
    }
    if (problems.length > 0) {
      const message =
        problems.length === 1 ? `${problems[0]!.path}: ${problems[0]!.message}` : `Invalid agents:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`;
      throw new ConfigError(message, { issues: problems });
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
