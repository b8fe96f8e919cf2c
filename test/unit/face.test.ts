/**
 * The public face (src/index.ts): the names it exports are a promise to every adapter and embedder,
 * so they are pinned here, written out. Adding a name is a decision: add it to the list below.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as face from '../../src/index.js';
import type { SwitchboardEvent } from '../../src/index.js';

const root = resolve(import.meta.dirname, '../..');
const INDEX = join(root, 'src/index.ts');

/** Every name src/index.ts exports, types included, as the compiler sees them. */
function exportedNames(): string[] {
  const program = ts.createProgram([INDEX], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!;
  return checker.getExportsOfModule(module).map((s) => s.name).sort();
}

const VALUES = [
  'ADAPTER_SECTIONS',
  'AgentRegistry',
  'AgentSpecSchema',
  'ClosedError',
  'ConfigError',
  'ConfigSchema',
  'EventBus',
  'FINAL_PLAN_STATUSES',
  'FINAL_RUN_STATUSES',
  'ForbiddenError',
  'IdempotencyConflictError',
  'InternalError',
  'InvalidInputError',
  'LeaseLostError',
  'ModelCallError',
  'ModelNotConfiguredError',
  'NotAwaitingApprovalError',
  'NotFoundError',
  'ProviderSchema',
  'RunFailedError',
  'SURFACE_REF_KINDS',
  'SqlitePlanStore',
  'SqliteStore',
  'StoreUnavailableError',
  'SwitchboardError',
  'ToolError',
  'UnknownAgentError',
  'adapterSection',
  'artifactUri',
  'builtinAgents',
  'builtinTools',
  'checkProviders',
  'configSource',
  'createLogger',
  'createModelClient',
  'createSwitchboard',
  'defineTool',
  'describeEvent',
  'describeModelSetup',
  'findConfigFile',
  'knownToolNames',
  'loadConfigFile',
  'mayAccess',
  'openPersistence',
  'openStore',
  'packageVersion',
  'parseConfig',
  'parseConfigText',
  'postgresArtifactStore',
  'preview',
  'principalFromId',
  'principalId',
  'silentLogger',
  'sqliteArtifactStore',
  'sqlitePersistence',
];

const TYPES = [
  'AdapterSectionName',
  'AgentRole',
  'AgentSpec',
  'AgentSpecInput',
  'Approval',
  'ApprovalFilter',
  'ApprovalKind',
  'ApprovalPatch',
  'ApprovalStatus',
  'ApprovalStore',
  'ApprovalView',
  'Artifact',
  'ArtifactStore',
  'ArtifactStoreOptions',
  'AskResult',
  'ChatMessage',
  'ChatRequest',
  'ChatResult',
  'Config',
  'ConfigInput',
  'ConfigSource',
  'Conversation',
  'ConversationAccess',
  'ConversationOptions',
  'DecideResult',
  'Decision',
  'DescribeOptions',
  'EventListener',
  'ImageInput',
  'Json',
  'LogLevel',
  'Logger',
  'Message',
  'ModelClient',
  'NewConversationOptions',
  'NewPlan',
  'NewPlanStep',
  'PartialPersistence',
  'Persistence',
  'Plan',
  'PlanApprovalMode',
  'PlanRecord',
  'PlanStatus',
  'PlanStep',
  'PlanStore',
  'PlanTransition',
  'PlanUsage',
  'PolicyVerdict',
  'Principal',
  'ProviderCheck',
  'ProviderConfig',
  'ProviderInfo',
  'ReplanReason',
  'Run',
  'RunFilter',
  'RunStatus',
  'RunStep',
  'RunUsage',
  'SendInput',
  'StepStatus',
  'Store',
  'SurfaceRefKind',
  'SurfaceRefStore',
  'Switchboard',
  'SwitchboardEvent',
  'SwitchboardEventType',
  'SwitchboardOptions',
  'Thread',
  'ToolAnnotations',
  'ToolApprovalDecision',
  'ToolApprovalGate',
  'ToolApprovalRequest',
  'ToolCall',
  'ToolContext',
  'ToolDefinition',
  'ToolResult',
  'Usage',
  'UsageTotals',
];

describe('the face (src/index.ts)', () => {
  it('exports exactly these values at run time', () => {
    expect(Object.keys(face).sort()).toEqual(VALUES);
  });

  it('exports exactly these names, types included', () => {
    expect(exportedNames()).toEqual([...VALUES, ...TYPES].sort());
  }, 60_000);

  it('is the only way the adapters reach the engine', () => {
    const offenders: string[] = [];
    for (const dir of ['src/mcp', 'src/cli', 'src/bots']) {
      for (const file of tsFiles(join(root, dir))) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'([^']+)'/g)) {
          if (/(^|\/)core(\/|$)/.test(m[1]!)) offenders.push(`${relative(root, file)}: ${m[1]}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('is enforced by the lint rule: an adapter importing src/core (statically, lazily, or re-exporting) fails eslint', async () => {
    const eslint = new ESLint({ cwd: root });
    const lint = async (file: string, code: string) => {
      const [result] = await eslint.lintText(code, { filePath: join(root, file) });
      return result!.messages.map((m) => m.ruleId);
    };
    const reach = "import { SwitchboardError } from '../core/errors.js';\nexport const e = SwitchboardError;\n";
    expect(await lint('src/mcp/zz-probe.ts', reach)).toEqual(['no-restricted-imports']);
    expect(await lint('src/cli/zz-probe.ts', reach)).toEqual(['no-restricted-imports']);
    expect(await lint('src/bots/slack/zz-probe.ts', reach.replace('../core/', '../../core/'))).toEqual(['no-restricted-imports']);
    expect(await lint('src/mcp/zz-probe.ts', "export { openStore } from '../core/store/open.js';\n")).toEqual(['no-restricted-imports']);
    expect(await lint('src/bots/zz-probe.ts', "export const load = () => import('../core/errors.js');\n")).toEqual(['no-restricted-syntax']);
    // The face itself is the way in; and the core may not reach out to an adapter.
    expect(await lint('src/mcp/zz-probe.ts', "import { SwitchboardError } from '../index.js';\nexport const e = SwitchboardError;\n")).toEqual([]);
    expect(await lint('src/core/zz-probe.ts', "export { startMcp } from '../mcp/index.js';\n")).toEqual(['no-restricted-imports']);
  }, 60_000);
});

function tsFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return []; // src/bots does not exist yet
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const base = { conversationId: 'conv_1', runId: 'run_1', rootRunId: 'run_1', parentRunId: null, agent: 'proxy', depth: 0, at: 0 };

describe('describeEvent and preview: one wording for every surface', () => {
  it('previews text on one line, cut with an ellipsis', () => {
    expect(face.preview('  a\n\n b\tc  ')).toBe('a b c');
    expect(face.preview('x'.repeat(100), 10)).toBe('x'.repeat(9) + '…');
    expect(face.preview('x'.repeat(10), 10)).toBe('x'.repeat(10));
  });

  it('tells delegations as a flat line, or nested under their run', () => {
    const started: SwitchboardEvent = { ...base, type: 'delegation.started', toolCallId: 't1', recipient: 'vision_agent', message: 'Describe\ncat.png', childRunId: 'run_2' };
    const finished: SwitchboardEvent = { ...base, type: 'delegation.finished', toolCallId: 't1', recipient: 'vision_agent', childRunId: 'run_2', ok: true, reply: 'A cat.' };
    const failed: SwitchboardEvent = { ...finished, ok: false, reply: 'model down' };
    expect(face.describeEvent(started)).toBe('proxy → vision_agent: Describe cat.png');
    expect(face.describeEvent(started, { nested: true })).toBe('→ vision_agent: Describe cat.png');
    expect(face.describeEvent(finished)).toBe('vision_agent answered proxy');
    expect(face.describeEvent(finished, { nested: true })).toBe('← vision_agent answered');
    expect(face.describeEvent(failed, { nested: true })).toBe('← vision_agent failed: model down');
  });

  it('names tool calls (with their arguments when nested), failures, approvals and plans; stays silent on deltas', () => {
    const call: SwitchboardEvent = { ...base, agent: 'code_agent', depth: 1, type: 'tool.call', toolCallId: 't', name: 'run_code', arguments: '{"language":"python"}' };
    expect(face.describeEvent(call)).toBe('code_agent · run_code');
    expect(face.describeEvent(call, { nested: true })).toBe('code_agent · run_code {"language":"python"}');
    expect(face.describeEvent({ ...base, type: 'tool.call', toolCallId: 't', name: 'send_message', arguments: '{}' })).toBeNull();
    expect(face.describeEvent({ ...base, type: 'run.started' })).toBe('proxy is working');
    expect(face.describeEvent({ ...base, depth: 1, agent: 'vision_agent', type: 'run.started' })).toBe('vision_agent started');
    expect(face.describeEvent({ ...base, type: 'run.failed', error: 'boom' })).toBe('proxy failed: boom');
    expect(face.describeEvent({ ...base, type: 'approval.requested', approvalId: 'apr_1', kind: 'tool_call', summary: 'run python' })).toBe(
      'proxy waits for approval (apr_1): run python',
    );
    expect(face.describeEvent({ ...base, type: 'plan.updated', planId: 'plan_1', status: 'running', stepId: 'step_1', stepStatus: 'completed' })).toBe(
      'plan plan_1: step step_1 completed',
    );
    expect(face.describeEvent({ ...base, type: 'text.delta', delta: 'hi' })).toBeNull();
  });
});

describe('principalFromId', () => {
  it('reads what principalId writes', () => {
    for (const p of [{ surface: 'cli', userId: 'alice' }, { surface: 'slack', tenant: 'T1', userId: 'U123' }]) {
      expect(face.principalFromId(face.principalId(p))).toEqual(p);
    }
    expect(face.principalFromId('teams:tenant-1:29:abc')).toEqual({ surface: 'teams', tenant: 'tenant-1', userId: '29:abc' });
  });

  it('takes a default surface for a bare id, and refuses one without', () => {
    expect(face.principalFromId('alice', { surface: 'mcp' })).toEqual({ surface: 'mcp', userId: 'alice' });
    expect(() => face.principalFromId('alice')).toThrow(face.InvalidInputError);
    expect(() => face.principalFromId('cli:')).toThrow(/not a principal id/);
  });
});

describe('no plain Error from the engine', () => {
  // Control-flow sentinels that never leave their function: a transition whose expectation failed.
  const ALLOWED = [/const abort = new Error\('expectation failed'\)/, /new Error\(String\(rollbackErr\)\)/];

  it('throws only SwitchboardError subclasses (src/core has no `new Error(` but its private sentinels)', () => {
    const found: string[] = [];
    for (const file of tsFiles(join(root, 'src/core'))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/new Error\(/.test(line) && !ALLOWED.some((a) => a.test(line))) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('has no error class of its own outside the SwitchboardError tree but the model client\'s internal failures and SQLite\'s own', () => {
    // The model client's failures are classified into ModelCallError before they leave it; SqliteError mirrors the driver's.
    const INTERNAL = new Set(['src/core/model/body.ts: ConnectionClosed', 'src/core/model/failures.ts: StreamIdleTimeout', 'src/core/model/failures.ts: ConnectionLost',
      'src/core/model/failures.ts: BadResponse', 'src/core/model/failures.ts: HeadersTimeout', 'src/core/model/failures.ts: ConnectFailed',
      'src/core/model/failures.ts: ErrorInAnswer', 'src/core/store/sqlite-driver-errors.ts: SqliteError', 'src/core/errors.ts: SwitchboardError']);
    const found: string[] = [];
    for (const file of tsFiles(join(root, 'src/core'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/class (\w+) extends (?:Error|TypeError|RangeError)\b/g)) found.push(`${relative(root, file)}: ${m[1]}`);
    }
    expect(found.filter((f) => !INTERNAL.has(f))).toEqual([]);
  });
});

describe('adapter sections of the config', () => {
  const SlackSchema = z.strictObject({ botToken: z.string().startsWith('xoxb-', 'must be a bot token (xoxb-...)'), port: z.number().int().default(3000) }).optional();

  it('are kept as written, for the adapter to validate', () => {
    const config = face.parseConfig({ slack: { botToken: 'xoxb-1' }, teams: { anything: [1, 2] } } as face.ConfigInput);
    expect(face.adapterSection(config, 'slack', SlackSchema)).toEqual({ botToken: 'xoxb-1', port: 3000 });
    expect(face.adapterSection(config, 'teams', z.unknown())).toEqual({ anything: [1, 2] });
    expect(face.adapterSection(face.parseConfig({}), 'slack', SlackSchema)).toBeUndefined();
  });

  it('name each mistake by its path when the config was given in code', () => {
    const config = face.parseConfig({ slack: { botToken: 'abc', prot: 1 } } as face.ConfigInput);
    const err = catchError(() => face.adapterSection(config, 'slack', SlackSchema));
    expect(err).toBeInstanceOf(face.ConfigError);
    expect(err.message.split('\n')).toEqual(['Invalid config:', '  slack.botToken: must be a bot token (xoxb-...)', '  slack.prot: unknown key']);
    expect(err.issues).toEqual([
      { path: 'slack.botToken', message: 'must be a bot token (xoxb-...)' },
      { path: 'slack.prot', message: 'unknown key' },
    ]);
  });

  it('name the file and the line when the config came from a file, also after createSwitchboard-style revalidation', () => {
    const FILE = '/etc/switchboard.yaml';
    const text = ['agents: {}', 'slack:', '  botToken: ${SLACK_TOKEN}', '  port: 80.5', ''].join('\n');
    const config = face.parseConfigText(text, FILE, { SLACK_TOKEN: 'not-a-token' });
    for (const c of [config, face.parseConfig(config)]) {
      const err = catchError(() => face.adapterSection(c, 'slack', SlackSchema));
      expect(err.file).toBe(FILE);
      expect(err.message.split('\n')).toEqual([
        `Invalid config ${FILE}:`,
        `  ${FILE}:3 slack.botToken: must be a bot token (xoxb-...)`,
        `  ${FILE}:4 slack.port: Invalid input: expected int, received number`,
      ]);
      expect(face.configSource(c)?.file).toBe(FILE);
    }
  });
});

function catchError(fn: () => unknown): face.ConfigError {
  try {
    fn();
  } catch (err) {
    return err as face.ConfigError;
  }
  throw new Error('expected a ConfigError');
}
