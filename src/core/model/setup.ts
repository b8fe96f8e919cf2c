import type { Config, ProviderConfig } from '../agents/spec.js';

/**
 * The provider the config names, or the `default` one built from the environment:
 * OPENAI_API_KEY / OPENAI_BASE_URL for OpenAI and compatible servers, AZURE_OPENAI_ENDPOINT for Azure.
 */
export function resolveProvider(name: string, providers: Config['providers'], env: NodeJS.ProcessEnv): ProviderConfig | undefined {
  const configured = providers[name];
  if (configured) return configured;
  if (name !== 'default') return undefined;
  if (env.AZURE_OPENAI_ENDPOINT && !env.OPENAI_BASE_URL) {
    return { type: 'azure', endpoint: env.AZURE_OPENAI_ENDPOINT, apiKey: env.AZURE_OPENAI_API_KEY, apiVersion: env.OPENAI_API_VERSION ?? '2024-10-21' };
  }
  return { type: 'openai', apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL };
}

export const SETUP_HELP = [
  'Set one of:',
  '  OPENAI_API_KEY=sk-...                               (OpenAI)',
  '  OPENAI_BASE_URL=http://127.0.0.1:11434/v1           (Ollama, vLLM, LiteLLM or another compatible server)',
  '  AZURE_OPENAI_ENDPOINT=https://NAME.openai.azure.com and AZURE_OPENAI_API_KEY=...   (Azure OpenAI)',
  'or add a `providers:` entry to switchboard.yaml.',
].join('\n');

/** Why the configured agents cannot reach a model, or null when every provider they use is usable. */
export function providerProblem(name: string, providers: Config['providers'], env: NodeJS.ProcessEnv): string | null {
  const p = resolveProvider(name, providers, env);
  if (!p) return `Provider "${name}" is not configured (configured: ${Object.keys(providers).join(', ') || 'none'}).`;
  if (p.type === 'openai' && !p.apiKey && !p.baseURL && !env.OPENAI_API_KEY) {
    return `No model credentials for provider "${name}".\n${SETUP_HELP}`;
  }
  if (p.type === 'azure' && !p.apiKey && !env.AZURE_OPENAI_API_KEY) {
    return `Provider "${name}" (Azure OpenAI at ${p.endpoint}) has no API key: set AZURE_OPENAI_API_KEY or providers.${name}.apiKey.`;
  }
  return null;
}

/** Checks every provider the config's agents use; returns the first problem found. */
export function checkProviders(config: Config, env: NodeJS.ProcessEnv): string | null {
  const used = new Set<string>([config.defaults.provider]);
  for (const a of Object.values(config.agents)) if (a.provider) used.add(a.provider);
  for (const name of used) {
    const problem = providerProblem(name, config.providers, env);
    if (problem) return problem;
  }
  return null;
}
