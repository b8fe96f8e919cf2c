import type { Config } from '../agents/spec.js';
import { checkProvider } from './providers.js';

/**
 * Checks, without a request, every provider the config's agents use (the default one and any an
 * agent names); returns the first problem as a message saying what to set, or null.
 */
export function checkProviders(config: Config, env: NodeJS.ProcessEnv): string | null {
  const used = new Set<string>([config.defaults.provider]);
  for (const a of Object.values(config.agents)) if (a.provider) used.add(a.provider);
  for (const name of used) {
    const check = checkProvider({ providers: config.providers, env }, name);
    if (!check.ok) return check.message;
  }
  return null;
}
