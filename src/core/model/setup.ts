import { builtinAgents } from '../agents/defaults.js';
import type { Config } from '../agents/spec.js';
import { checkProvider } from './providers.js';

/** The provider names the deployment's agents will call: their own, or `defaults.provider`. */
export function providersInUse(config: Config): Set<string> {
  const names = new Set(config.builtinAgents ? Object.keys(builtinAgents) : []);
  for (const name of Object.keys(config.agents)) names.add(name);
  return new Set([...names].map((name) => config.agents[name]?.provider ?? config.defaults.provider));
}

/**
 * Checks, without a request, every provider the config's agents use; returns the first problem as
 * a message saying what to set, or null.
 */
export function checkProviders(config: Config, env: NodeJS.ProcessEnv): string | null {
  for (const name of providersInUse(config)) {
    const check = checkProvider({ providers: config.providers, env }, name);
    if (!check.ok) return check.message;
  }
  return null;
}
