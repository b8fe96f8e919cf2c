import { cpus, totalmem } from 'node:os';
import { fmt } from './stats.js';
import type { Metric, ScenarioResult } from './types.js';

export interface Machine {
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  memoryGB: number;
}

export function machine(): Machine {
  const list = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
  };
}

export function describeMachine(m: Machine): string {
  return `Node ${m.node}, ${m.platform}, ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB`;
}

function value(m: Metric): string {
  if (m.value === null) return 'not available';
  const v = typeof m.value === 'number' ? fmt(m.value) : m.value;
  return m.unit ? `${v} ${m.unit}` : v;
}

const mark = (m: Metric): string => (m.ok === undefined ? '' : m.ok ? 'yes' : 'NO');

function rows(results: readonly ScenarioResult[]): string[][] {
  const out: string[][] = [];
  for (const r of results) {
    r.metrics.forEach((m, i) => out.push([i === 0 ? r.title : '', m.name, value(m), m.target ? `${m.target} ${m.unit}`.trim() : '', mark(m), m.note ?? '']));
  }
  return out;
}

const HEAD = ['scenario', 'metric', 'value', 'target', 'met', 'note'];

/** A plain-text table for the terminal. */
export function textTable(results: readonly ScenarioResult[]): string {
  const all = [HEAD, ...rows(results)];
  const widths = HEAD.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  const out: string[] = [];
  all.forEach((r, i) => {
    if (i > 1 && r[0]) out.push('');
    out.push(line(r));
    if (i === 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  return out.join('\n');
}

/** The same table in Markdown, for the README. */
export function markdownTable(results: readonly ScenarioResult[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`];
  for (const r of rows(results)) lines.push(`| ${r.map(esc).join(' | ')} |`);
  return lines.join('\n');
}
