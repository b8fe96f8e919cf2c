/**
 * Which model API a provider name means: a `providers` entry of the config, or `default` built from
 * the environment (OPENAI_API_KEY / OPENAI_BASE_URL, or AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_API_KEY).
 * Answers without making a request, and never puts a key in what it returns for display.
 */
import type { ProviderConfig } from '../agents/spec.js';

type Env = NodeJS.ProcessEnv;

/** Where the model configuration comes from: the config's `providers` and the environment. */
export interface ModelSetup {
  providers: Record<string, ProviderConfig>;
  env?: Env;
}

/** What a provider resolves to, without its key: safe to print (`switchboard doctor`). */
export interface ProviderInfo {
  name: string;
  type: 'openai' | 'azure';
  /** Base URL (OpenAI-compatible) or endpoint (Azure), without credentials. */
  url: string;
  /** Where the API key comes from; `placeholder` for a local server that needs none. */
  keySource: 'config' | 'OPENAI_API_KEY' | 'AZURE_OPENAI_API_KEY' | 'placeholder';
  apiVersion?: string;
  /** True when built from environment variables rather than a `providers` entry. */
  fromEnv: boolean;
}

export type ProviderCheck = { ok: true; provider: ProviderInfo } | { ok: false; message: string };

export interface Resolved extends ProviderInfo {
  apiKey: string;
  baseURL: string;
  organization?: string;
  project?: string;
}

const DEFAULT_API_VERSION = '2024-10-21';
const OPENAI_URL = 'https://api.openai.com/v1';
export const PLACEHOLDER_KEY = 'not-needed';
const SETUP_HINT =
  'Set OPENAI_API_KEY (OpenAI), or OPENAI_BASE_URL for a local OpenAI-compatible server such as Ollama or vLLM ' +
  '(e.g. http://localhost:11434/v1), or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (Azure OpenAI), ' +
  'or add a "providers" entry to switchboard.yaml.';

const envOf = (env: Env, key: string): string | undefined => {
  const value = env[key]?.trim();
  return value ? value : undefined;
};

/** Strip credentials, query and trailing slashes from a URL before it is shown anywhere. */
function displayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return raw.replace(/\/+$/, '');
  }
}

export function resolveProvider(setup: ModelSetup, name: string): { ok: true; provider: Resolved } | { ok: false; message: string } {
  const env = setup.env ?? process.env;
  const configured = setup.providers[name];
  if (!configured && name !== 'default') {
    const known = ['default', ...Object.keys(setup.providers).filter((n) => n !== 'default')];
    return {
      ok: false,
      message: `Unknown model provider "${name}". Configured providers: ${known.join(', ')}. Add "${name}" under "providers" in switchboard.yaml or use one of these.`,
    };
  }
  const fromEnv = !configured;
  const cfg: ProviderConfig | undefined =
    configured ??
    (envOf(env, 'AZURE_OPENAI_ENDPOINT')
      ? { type: 'azure', endpoint: envOf(env, 'AZURE_OPENAI_ENDPOINT')!, apiVersion: envOf(env, 'OPENAI_API_VERSION') ?? DEFAULT_API_VERSION }
      : { type: 'openai' });

  if (cfg.type === 'azure') {
    const apiKey = cfg.apiKey ?? envOf(env, 'AZURE_OPENAI_API_KEY');
    if (!apiKey) {
      const where = fromEnv ? 'AZURE_OPENAI_ENDPOINT is set but' : `Azure OpenAI provider "${name}" (${displayUrl(cfg.endpoint)})`;
      return {
        ok: false,
        message: `${where} has no API key. Set AZURE_OPENAI_API_KEY${fromEnv ? '' : ` or providers.${name}.apiKey in switchboard.yaml`}.`,
      };
    }
    const endpoint = cfg.endpoint.replace(/\/+$/, '');
    return {
      ok: true,
      provider: {
        name,
        type: 'azure',
        url: displayUrl(endpoint),
        baseURL: `${endpoint}/openai`,
        apiKey,
        keySource: cfg.apiKey ? 'config' : 'AZURE_OPENAI_API_KEY',
        apiVersion: cfg.apiVersion || DEFAULT_API_VERSION,
        fromEnv,
      },
    };
  }

  const envKey = envOf(env, 'OPENAI_API_KEY');
  const baseURL = cfg.baseURL ?? envOf(env, 'OPENAI_BASE_URL');
  const apiKey = cfg.apiKey ?? envKey ?? (baseURL ? PLACEHOLDER_KEY : undefined);
  if (!apiKey) {
    return {
      ok: false,
      message: fromEnv
        ? `No model API is configured. ${SETUP_HINT}`
        : `Model provider "${name}" has no API key and no base URL. Set providers.${name}.apiKey or providers.${name}.baseURL in switchboard.yaml, or OPENAI_API_KEY in the environment.`,
    };
  }
  const url = baseURL ?? OPENAI_URL;
  const project = envOf(env, 'OPENAI_PROJECT_ID');
  const organization = cfg.organization ?? envOf(env, 'OPENAI_ORG_ID');
  return {
    ok: true,
    provider: {
      name,
      type: 'openai',
      url: displayUrl(url),
      baseURL: url,
      apiKey,
      keySource: cfg.apiKey ? 'config' : envKey ? 'OPENAI_API_KEY' : 'placeholder',
      fromEnv,
      ...(organization ? { organization } : {}),
      ...(project ? { project } : {}),
    },
  };
}

function publicInfo(p: Resolved): ProviderInfo {
  const { name, type, url, keySource, fromEnv, apiVersion } = p;
  return { name, type, url, keySource, fromEnv, ...(apiVersion ? { apiVersion } : {}) };
}

/** Whether provider `name` (default: `default`) can be used, without making a request. */
export function checkProvider(setup: ModelSetup, name = 'default'): ProviderCheck {
  const r = resolveProvider(setup, name);
  return r.ok ? { ok: true, provider: publicInfo(r.provider) } : r;
}

/** Every provider the setup knows (`default` always included), each checked. For `doctor`. */
export function describeModelSetup(setup: ModelSetup): Array<{ name: string } & ProviderCheck> {
  const names = ['default', ...Object.keys(setup.providers).filter((n) => n !== 'default')];
  return names.map((name) => ({ name, ...checkProvider(setup, name) }));
}

