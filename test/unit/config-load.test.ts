import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findConfigFile, loadConfigFile, parseConfig, parseConfigText } from '../../src/core/agents/load.js';
import { builtinAgents } from '../../src/core/agents/defaults.js';
import { AgentRegistry } from '../../src/core/agents/registry.js';
import type { Config } from '../../src/core/agents/spec.js';
import { ConfigError } from '../../src/core/errors.js';
import { builtinToolNames } from '../../src/core/tools/index.js';

const FILE = '/etc/sb/switchboard.yaml';
// The engine's own tools (delegation, plans) besides the built-in specialist tools.
const knownTools = new Set([...builtinToolNames(), 'send_message', 'create_plan']);
const registryOf = (config: Config) => AgentRegistry.fromConfig(config, knownTools);
const yaml = (lines: string[]) => lines.join('\n') + '\n';

/** Parses `text` expecting a ConfigError, and returns its message. */
function mistake(text: string, file = FILE, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfigText(text, file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toMatch(/^\s+at /m);
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a config file', () => {
  it('is read from YAML: defaults, providers and agents', () => {
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(
      file,
      yaml([
        'defaults:',
        '  model: gpt-4.1-mini',
        '  contextBudget: 8000',
        'providers:',
        '  local:',
        '    type: openai',
        '    baseURL: http://localhost:11434/v1',
        'agents:',
        '  translator:',
        '    description: Translates text between languages.',
        '    instructions: Translate faithfully.',
        '    model: llama3.1',
        '    provider: local',
      ]),
    );
    const config = loadConfigFile(file, {});
    expect(config.defaults).toMatchObject({ model: 'gpt-4.1-mini', contextBudget: 8000 });
    expect(config.providers.local).toEqual({ type: 'openai', baseURL: 'http://localhost:11434/v1' });
    const translator = registryOf(config).get('translator');
    expect(translator).toMatchObject({ role: 'specialist', model: 'llama3.1', provider: 'local', instructions: 'Translate faithfully.' });
  });

  it('is read from JSON just the same', () => {
    const file = join(dir, 'switchboard.json');
    writeFileSync(
      file,
      JSON.stringify({ defaults: { model: 'gpt-4o' }, agents: { translator: { description: 'Translates text.', tools: ['read_file'] } } }, null, 2),
    );
    const config = loadConfigFile(file, {});
    expect(registryOf(config).get('translator')).toMatchObject({ model: 'gpt-4o', tools: ['read_file'] });
  });

  it('is found as ./switchboard.yaml, or wherever --config or SWITCHBOARD_CONFIG point', () => {
    expect(findConfigFile({ cwd: dir, env: {} })).toBeUndefined();
    writeFileSync(join(dir, 'switchboard.yaml'), 'agents: {}\n');
    writeFileSync(join(dir, 'other.yaml'), 'agents: {}\n');
    expect(findConfigFile({ cwd: dir, env: {} })).toBe(join(dir, 'switchboard.yaml'));
    expect(findConfigFile({ cwd: dir, env: { SWITCHBOARD_CONFIG: 'other.yaml' } })).toBe(join(dir, 'other.yaml'));
    expect(findConfigFile({ cwd: dir, path: 'other.yaml', env: { SWITCHBOARD_CONFIG: 'missing.yaml' } })).toBe(join(dir, 'other.yaml'));
  });

  it('that is named but missing is an error naming the path', () => {
    expect(() => findConfigFile({ cwd: dir, path: 'nope.yaml' })).toThrow(ConfigError);
    expect(() => findConfigFile({ cwd: dir, path: 'nope.yaml' })).toThrow(`Config file not found: ${join(dir, 'nope.yaml')}`);
    expect(() => findConfigFile({ cwd: dir, env: { SWITCHBOARD_CONFIG: 'gone.yml' } })).toThrow(join(dir, 'gone.yml'));
  });

  it('may be empty: everything has a default', () => {
    const config = parseConfigText('', FILE, {});
    expect(config.builtinAgents).toBe(true);
    expect(config.defaults).toEqual({ model: 'gpt-4o-mini', provider: 'default', contextBudget: 24_000, maxTurns: 16 });
    expect(config.store).toEqual({ type: 'sqlite', path: '.switchboard/switchboard.db' });
  });
});

describe('environment variables in the config', () => {
  const text = yaml([
    'providers:',
    '  azure:',
    '    type: azure',
    '    endpoint: ${AZURE_URL}',
    '    apiKey: ${AZURE_KEY}',
    '  local:',
    '    type: openai',
    '    baseURL: ${LOCAL_URL:-http://localhost:11434/v1}',
    'defaults:',
    '  model: ${MODEL:-gpt-4o-mini}',
  ]);

  it('replaces ${VAR} with its value', () => {
    const config = parseConfigText(text, FILE, { AZURE_URL: 'https://acme.openai.azure.com', AZURE_KEY: 'k-123' });
    expect(config.providers.azure).toEqual({ type: 'azure', endpoint: 'https://acme.openai.azure.com', apiKey: 'k-123', apiVersion: '2024-10-21' });
  });

  it('uses the fallback of ${VAR:-fallback} when VAR is unset, and VAR when it is set', () => {
    const env = { AZURE_URL: 'https://acme.openai.azure.com' };
    const unset = parseConfigText(text, FILE, env);
    expect(unset.providers.local).toEqual({ type: 'openai', baseURL: 'http://localhost:11434/v1' });
    expect(unset.defaults.model).toBe('gpt-4o-mini');
    const set = parseConfigText(text, FILE, { ...env, LOCAL_URL: 'http://gpu-box:8000/v1', MODEL: 'qwen2.5' });
    expect(set.providers.local).toEqual({ type: 'openai', baseURL: 'http://gpu-box:8000/v1' });
    expect(set.defaults.model).toBe('qwen2.5');
  });

  it('replaces an unset ${VAR} without fallback with nothing, so a required value is reported missing', () => {
    const message = mistake(text, FILE, {});
    expect(message).toContain(`${FILE}:4 providers.azure.endpoint: Invalid URL`);
  });

  it('expands inside longer strings and lists', () => {
    const config = parseConfigText(
      yaml(['agents:', '  helper:', '    description: Helps ${TEAM} people', '    tools: ["${TOOL:-read_file}"]']),
      FILE,
      { TEAM: 'ops' },
    );
    expect(config.agents.helper).toMatchObject({ description: 'Helps ops people', tools: ['read_file'] });
  });
});

describe('the built-in agents and the config file', () => {
  it('without a file are the classic team: a proxy, three specialists and a planner, each described', () => {
    const agents = registryOf(parseConfig({}));
    expect(agents.list().map((a) => [a.name, a.role])).toEqual([
      ['proxy', 'proxy'],
      ['image_agent', 'specialist'],
      ['vision_agent', 'specialist'],
      ['code_agent', 'specialist'],
      ['planner', 'planner'],
    ]);
    expect(agents.get('proxy').tools).toContain('send_message');
    expect(agents.get('image_agent').tools).toEqual(['generate_image']);
    expect(agents.get('vision_agent').tools).toEqual(['analyze_image']);
    expect(agents.get('code_agent').tools).toEqual(expect.arrayContaining(['write_file', 'run_code']));
    for (const a of agents.list()) expect(a.description.length).toBeGreaterThan(40);
  });

  it('resolves every agent model, provider, context budget and turn limit from defaults', () => {
    const config = parseConfigText(yaml(['defaults:', '  model: gpt-4.1', '  provider: main', '  contextBudget: 5000', '  maxTurns: 7']), FILE, {});
    for (const a of registryOf(config).list()) {
      expect(a).toMatchObject({ model: 'gpt-4.1', provider: 'main', contextBudget: 5000, maxTurns: 7 });
    }
  });

  it('adds an agent declared in the file as a specialist', () => {
    const agents = registryOf(parseConfigText(yaml(['agents:', '  translator:', '    description: Translates.']), FILE, {}));
    expect(agents.names()).toEqual(['proxy', 'image_agent', 'vision_agent', 'code_agent', 'planner', 'translator']);
    expect(agents.get('translator')).toMatchObject({ role: 'specialist', tools: [], instructions: '', model: 'gpt-4o-mini' });
    expect(agents.specialists().map((a) => a.name)).toContain('translator');
  });

  it('lets an entry named like a built-in change only the fields it gives', () => {
    const config = parseConfigText(yaml(['agents:', '  vision_agent:', '    model: gpt-4o', '    temperature: 0.2']), FILE, {});
    const before = registryOf(parseConfig({})).get('vision_agent');
    const after = registryOf(config).get('vision_agent');
    expect(after).toEqual({ ...before, model: 'gpt-4o', temperature: 0.2 });
  });

  it('keeps the proxy the proxy when only its model is overridden', () => {
    const agents = registryOf(parseConfigText(yaml(['agents:', '  proxy:', '    model: gpt-4.1', '    provider: azure']), FILE, {}));
    expect(agents.proxy).toMatchObject({ name: 'proxy', role: 'proxy', model: 'gpt-4.1', provider: 'azure' });
    expect(agents.proxy.tools).toEqual(builtinAgents.proxy!.tools);
  });

  it('gives each agent its own model and provider, others keep the defaults', () => {
    const config = parseConfigText(
      yaml([
        'providers:',
        '  azure:',
        '    type: azure',
        '    endpoint: https://acme.openai.azure.com',
        'agents:',
        '  vision_agent:',
        '    model: my-gpt4o-deployment',
        '    provider: azure',
      ]),
      FILE,
      {},
    );
    expect(config.providers.azure).toMatchObject({ type: 'azure', apiVersion: '2024-10-21' });
    const agents = registryOf(config);
    expect(agents.get('vision_agent')).toMatchObject({ model: 'my-gpt4o-deployment', provider: 'azure' });
    expect(agents.get('image_agent')).toMatchObject({ model: 'gpt-4o-mini', provider: 'default' });
  });

  it('can leave the built-ins out when the file brings its own proxy', () => {
    const config = parseConfigText(
      yaml(['builtinAgents: false', 'agents:', '  lead:', '    role: proxy', '    description: Talks with people.', '    tools: [send_message]', '  helper:', '    description: Helps.']),
      FILE,
      {},
    );
    const agents = registryOf(config);
    expect(agents.names()).toEqual(['lead', 'helper']);
    expect(agents.proxy.name).toBe('lead');
  });
});

describe('a mistake in the config file is reported with the file, the line and the path', () => {
  it('names an unknown key at its own line', () => {
    expect(mistake(yaml(['defaults:', '  model: gpt-4o', 'agents:', '  vision_agent:', '    description: Looks.', '    modle: gpt-4o']))).toContain(
      `${FILE}:6 agents.vision_agent.modle: unknown key`,
    );
    expect(mistake(yaml(['# agents and more', 'agent:', '  x: 1']))).toContain(`${FILE}:2 agent: unknown key`);
  });

  it('names a value of the wrong type', () => {
    const message = mistake(yaml(['agents:', '  helper:', '    description: Helps.', '    maxTurns: "ten"']));
    expect(message).toContain(`${FILE}:4 agents.helper.maxTurns:`);
    expect(message).toMatch(/expected number, received string/);
    expect(mistake(yaml(['defaults:', '  contextBudget: -5']))).toContain(`${FILE}:2 defaults.contextBudget:`);
  });

  it('names an agent whose name is not a valid identifier', () => {
    expect(mistake(yaml(['agents:', '  helper:', '    description: ok', '  Vision-Agent:', '    description: Looks.']))).toContain(
      `${FILE}:4 agents.Vision-Agent: "Vision-Agent" is not a valid agent name: it must start with a lowercase letter`,
    );
  });

  it('names a new agent that has no description, at the agent', () => {
    expect(mistake(yaml(['agents:', '  vision_agent:', '    model: gpt-4o', '  helper:', '    model: gpt-4o']))).toContain(
      `${FILE}:4 agents.helper.description: is required for a new agent`,
    );
  });

  it('names a second proxy', () => {
    expect(mistake(yaml(['agents:', '  boss:', '    description: Also talks with people.', '    role: proxy']))).toContain(
      `${FILE}:4 agents.boss.role: exactly one agent may have role "proxy" (found 2: proxy, boss)`,
    );
  });

  it('names an unknown tool, listing the known ones', () => {
    const message = mistake(yaml(['agents:', '  coder:', '    description: Codes.', '    tools:', '      - write_file', '      - teleport']));
    expect(message).toContain(`${FILE}:6 agents.coder.tools.1: unknown tool "teleport". Known tools: analyze_image, `);
    expect(message).toMatch(/Known tools: .*send_message, write_file$/m);
  });

  it('accepts a tool registered in code when the loader is told about it', () => {
    const text = yaml(['agents:', '  clerk:', '    description: Files tickets.', '    tools: [file_ticket]']);
    expect(mistake(text)).toContain('unknown tool "file_ticket"');
    expect(parseConfigText(text, FILE, {}, { tools: ['file_ticket'] }).agents.clerk?.tools).toEqual(['file_ticket']);
  });

  it('rejects builtinAgents: false without a proxy of its own', () => {
    expect(mistake(yaml(['builtinAgents: false', 'agents:', '  helper:', '    description: Helps.']))).toContain(
      `${FILE}:1 builtinAgents: is false, so the built-in proxy is left out`,
    );
  });

  it('names a YAML syntax error with its line', () => {
    expect(mistake(yaml(['defaults:', '  model: a', '  model: b']))).toBe(`${FILE}:3: Map keys must be unique`);
    expect(mistake(yaml(['agents:', '  helper: [read_file', '  other: 1']))).toMatch(new RegExp(`^${FILE}:\\d+: .*\\]`));
  });

  it('names the line in a JSON file too', () => {
    const file = join(dir, 'switchboard.json');
    writeFileSync(file, JSON.stringify({ agents: { helper: { description: 'Helps.', maxTurns: '3' } } }, null, 2));
    expect(() => loadConfigFile(file, {})).toThrow(`${file}:5 agents.helper.maxTurns:`);
    writeFileSync(file, '{\n  "agents": {\n    "helper": {"description": "x",}\n    "x": 1\n  }\n}\n');
    expect(() => loadConfigFile(file, {})).toThrow(new RegExp(`^${file}:\\d+: Missing ,`));
  });

  it('reports every mistake at once', () => {
    const message = mistake(yaml(['agents:', '  helper:', '    descripton: typo', '  coder:', '    description: 7', 'limits:', '  modelRetries: 99']));
    expect(message.split('\n')).toEqual([
      `Invalid config ${FILE}:`,
      `  ${FILE}:3 agents.helper.descripton: unknown key`,
      `  ${FILE}:5 agents.coder.description: Invalid input: expected string, received number`,
      expect.stringContaining(`  ${FILE}:7 limits.modelRetries:`),
    ]);
  });

  it('reports agent mistakes in a config given in code by their path', () => {
    const config = parseConfig({ agents: { boss: { role: 'proxy', description: 'Also a proxy.' }, helper: { tools: ['teleport'] } } });
    let message = '';
    try {
      registryOf(config);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'Invalid agents:',
      expect.stringMatching(/^ {2}agents\.helper\.description: is required for a new agent/),
      '  agents.boss.role: exactly one agent may have role "proxy" (found 2: proxy, boss)',
    ]);
  });

  it('says when the top level is not a mapping', () => {
    expect(mistake('- just\n- a list\n')).toBe(`${FILE}: the top level must be a mapping (agents:, providers:, ...)`);
  });

  it('carries the file and the issues for programs', () => {
    try {
      parseConfigText(yaml(['agents:', '  helper:', '    model: x']), FILE, {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.code).toBe('config_invalid');
      expect(e.file).toBe(FILE);
      expect(e.issues).toEqual([expect.objectContaining({ path: 'agents.helper.description', line: 2 })]);
    }
  });
});

describe('a hostile or runaway config file is refused with one line, quickly and within bounded memory', () => {
  /** Nine levels of nine aliases each: 9^9 (387 million) strings once expanded. */
  const billionLaughs = () => {
    const lines = ['defaults:', '  model: gpt-4o', 'x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i <= 9; i++) lines.push(`x${i}: &x${i} [${Array.from({ length: 9 }, () => `*x${i - 1}`).join(', ')}]`);
    return yaml(lines);
  };
  const oneLine = (message: string) => expect(message).not.toContain('\n');

  it('refuses a "billion laughs" alias bomb at its first alias', () => {
    const message = mistake(billionLaughs());
    expect(message).toBe(`${FILE}:4: too many aliases: expanding its anchors would repeat data more than 100 times (a "billion laughs" document?)`);
    oneLine(message);
  });

  it('refuses it from a file the same way', () => {
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, billionLaughs());
    expect(() => loadConfigFile(file, {})).toThrow(`${file}:4: too many aliases`);
  });

  it('still reads a file that uses a few anchors and aliases', () => {
    const config = parseConfigText(
      yaml(['providers:', '  local: &local', '    type: openai', '    baseURL: http://localhost:11434/v1', '  backup: *local', 'defaults:', '  provider: backup']),
      FILE,
      {},
    );
    expect(config.providers.backup).toEqual({ type: 'openai', baseURL: 'http://localhost:11434/v1' });
  });

  it('names an alias to an anchor that does not exist', () => {
    const message = mistake(yaml(['defaults:', '  model: *nowhere']));
    expect(message).toMatch(new RegExp(`^${FILE}:2: `));
    oneLine(message);
  });

  it('refuses a file over 1 MiB without reading the rest of it', () => {
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, `defaults:\n  model: gpt-4o\n# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    const err = (() => {
      try {
        loadConfigFile(file, {});
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected the file to be refused');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`${file}: too large: a config file may have at most 1024 KiB (is this the right file?)`);
    expect(mistake(`# ${'é'.repeat(600 * 1024)}\n`)).toBe(`${FILE}: too large: a config file may have at most 1024 KiB (is this the right file?)`);
  });

  it('refuses a device that never ends', () => {
    expect(() => loadConfigFile('/dev/zero', {})).toThrow('/dev/zero: too large');
  });

  it('refuses deeply nested brackets before the parser recurses into them', () => {
    // A hundred thousand levels ran the YAML parser out of memory.
    const message = mistake(`defaults:\n  model: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
    expect(message).toBe(`${FILE}:2: nested too deeply: more than 64 levels of [ ] or { }`);
    expect(mistake(`{"agents": ${'{"a": '.repeat(70)}1${'}'.repeat(70)}}`)).toBe(`${FILE}:1: nested too deeply: more than 64 levels of [ ] or { }`);
  });

  it('refuses deeply indented block nesting', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i)}k${i}:`);
    expect(mistake(yaml(lines))).toBe(`${FILE}:130: nested too deeply: indented more than 256 columns`);
  });

  it('still reads brackets that close, however many there are', () => {
    const tools = Array.from({ length: 200 }, () => '[]').join(', ');
    expect(mistake(yaml(['defaults:', `  model: [${tools}]`]))).toMatch(/defaults\.model: .*expected string/);
  });
});
