import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startBenchFake } from '../fake.js';
import { repoRoot } from '../paths.js';
import { fmt, median, p95, summary } from '../stats.js';
import { metric, type Metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const MCP_TARGET = 300;
/** Issue 12: `switchboard mcp` to its first tools/list under this many times a bare `node -e 0`, same run. */
const NODE_RATIO = 3;

interface Spawned {
  wallMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node dist/cli/main.js ...args` and waits for it to exit. */
function runCli(cli: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ wallMs: performance.now() - t0, code, stdout, stderr }));
  });
}

type McpOutcome = { ok: true; initMs: number; toolsMs: number; tools: number; exitMs?: number } | { ok: false; why: string };

/**
 * Spawns `switchboard mcp` and speaks MCP over stdio as a host does: initialize, wait for the
 * answer, notifications/initialized, tools/list. Measures from spawn to the tools/list answer.
 */
function mcpColdStart(cli: string, env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 15_000): Promise<McpOutcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, 'mcp'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    let initMs = 0;
    let settled = false;
    // Resolves once the server has exited (the time is taken before): nothing outlives the scenario.
    const finish = (outcome: McpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode !== null || child.signalCode !== null) return resolve(outcome);
      const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
      // How long a host waits for the server to go once it closes stdin (right after tools/list: still loading).
      const ending = performance.now();
      child.once('close', () => {
        clearTimeout(kill);
        resolve(outcome.ok ? { ...outcome, exitMs: performance.now() - ending } : outcome);
      });
      child.stdin.end();
    };
    const timer = setTimeout(() => finish({ ok: false, why: `no tools/list answer within ${timeoutMs} ms; stderr: ${stderr.trim().slice(0, 200)}` }), timeoutMs);
    const send = (msg: object) => child.stdin.write(JSON.stringify(msg) + '\n');
    child.stdin.on('error', () => {});
    child.on('error', (err) => finish({ ok: false, why: err.message }));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => finish({ ok: false, why: `exited with ${code}: ${stderr.trim().split('\n')[0] ?? ''}` }));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        let msg: { id?: number; result?: { tools?: unknown[] }; error?: { message?: string } };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return finish({ ok: false, why: `non-JSON on stdout: ${line.slice(0, 120)}` });
        }
        if (msg.id === 1) {
          if (msg.error) return finish({ ok: false, why: `initialize failed: ${msg.error.message}` });
          initMs = performance.now() - t0;
          send({ jsonrpc: '2.0', method: 'notifications/initialized' });
          send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
        } else if (msg.id === 2) {
          if (msg.error) return finish({ ok: false, why: `tools/list failed: ${msg.error.message}` });
          return finish({ ok: true, initMs, toolsMs: performance.now() - t0, tools: msg.result?.tools?.length ?? 0 });
        }
      }
    });
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'switchboard-bench', version: '0.0.0' } },
    });
  });
}

/**
 * 5. Cold start of the built command (dist/, as `npm run build` makes it): `switchboard run` end to
 * end against the fake with latency 0 (proxy -> vision_agent -> proxy), and `switchboard mcp` until
 * the first tools/list answer. Both in a folder whose database already exists (one warm-up run).
 */
export async function coldStart(opts: ScenarioOptions): Promise<ScenarioResult> {
  const reps = opts.quick ? 4 : 15;
  const root = repoRoot();
  const cli = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const fake = await startBenchFake({ mode: 'delegate', latencyMs: 0, specialists: ['vision_agent'] });
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-cold-'));
  const env: NodeJS.ProcessEnv = { ...process.env, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-bench-not-a-real-key', SWITCHBOARD_USER: 'bench' };
  delete env.SWITCHBOARD_CONFIG;
  delete env.NODE_OPTIONS;
  try {
    const runs: Spawned[] = [];
    for (let i = 0; i <= reps; i++) {
      const r = await runCli(cli, ['run', `[cs${i}] What is in the picture at https://example.com/cat.png?`], env, dir);
      if (r.code !== 0 || !r.stdout.startsWith(`[cs${i}]`)) throw new Error(`switchboard run failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
      if (i > 0) runs.push(r);
    }
    const runWalls = runs.map((r) => r.wallMs);
    // Floors: node itself, and node loading the CLI entry (no engine).
    const nodeOnly: number[] = [];
    const version: number[] = [];
    for (let i = 0; i <= reps; i++) {
      const bare = await runCli('-e', ['0'], env, dir);
      const v = await runCli(cli, ['--version'], env, dir);
      if (i > 0) {
        nodeOnly.push(bare.wallMs);
        version.push(v.wallMs);
      }
    }

    const metrics: Metric[] = [
      metric('`switchboard run` end to end, median / p95', `${fmt(median(runWalls))} / ${fmt(p95(runWalls))}`, 'ms', { note: '3 model calls, latency 0' }),
      metric('`switchboard --version`, median', median(version), 'ms', { note: 'node + the CLI entry: floor of any command' }),
      metric('`node -e 0`, median', median(nodeOnly), 'ms', { note: 'node alone on this machine' }),
    ];
    const details: Record<string, unknown> = { run: summary(runWalls), version: summary(version), node: summary(nodeOnly) };

    const first = await mcpColdStart(cli, env, dir);
    if (!first.ok) {
      metrics.unshift(metric('`switchboard mcp` to first tools/list answer', null, 'ms', { target: `< ${MCP_TARGET}`, note: `not available: ${first.why.slice(0, 160)}` }));
      details.mcp = { available: false, why: first.why };
    } else {
      const samples: { initMs: number; toolsMs: number; tools: number; exitMs?: number }[] = [];
      for (let i = 0; i < reps; i++) {
        const r = await mcpColdStart(cli, env, dir);
        if (!r.ok) throw new Error(`switchboard mcp failed: ${r.why}`);
        samples.push(r);
      }
      const tools = samples.map((s) => s.toolsMs);
      const exits = samples.map((s) => s.exitMs ?? 0);
      const m = median(tools);
      const ratio = m / median(nodeOnly);
      metrics.unshift(
        metric('`switchboard mcp` to first tools/list answer, median', m, 'ms', { target: `< ${MCP_TARGET}`, ok: m < MCP_TARGET }),
        metric('`switchboard mcp` first tools/list / `node -e 0`, medians', `${fmt(ratio)}×`, '', { target: `< ${NODE_RATIO}×`, ok: ratio < NODE_RATIO, note: 'same run' }),
        metric('`switchboard mcp` to first tools/list answer, p95', p95(tools), 'ms'),
        metric('`switchboard mcp` to initialize answer, median', median(samples.map((s) => s.initMs)), 'ms', { note: `${samples[0]!.tools} tools listed` }),
        metric('`switchboard mcp` exit after stdin closes, median', median(exits), 'ms', { note: 'closed right after tools/list; includes process teardown' }),
      );
      details.mcp = { available: true, overNode: Math.round(ratio * 1000) / 1000, toolsList: summary(tools), initialize: summary(samples.map((s) => s.initMs)), exit: summary(exits), tools: samples[0]!.tools };
    }
    return {
      scenario: 'cold-start',
      title: '5. cold start (built CLI, spawned)',
      params: { repetitions: reps, warmup: 1, cli: 'dist/cli/main.js', latencyMs: 0 },
      metrics,
      details,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await fake.close();
  }
}
