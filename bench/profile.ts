import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const maps = new Map<string, SourceMap | null>();

function sourceMapFor(file: string): SourceMap | null {
  if (!maps.has(file)) {
    const mapFile = `${file}.map`;
    maps.set(file, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as never) : null);
  }
  return maps.get(file)!;
}

/** `path:line` of a frame, mapped to the TypeScript source when a source map is next to the JS. */
function where(frame: CallFrame, root: string): string {
  if (!frame.url) return '';
  if (!frame.url.startsWith('file://')) return `${frame.url}:${frame.lineNumber + 1}`;
  const file = fileURLToPath(frame.url);
  const rel = relative(root, file);
  // Packages ship their own source maps; name them by package file, not by their sources.
  if (rel.startsWith('node_modules/')) return `${rel.replace(/^node_modules\//, '')}:${frame.lineNumber + 1}`;
  const map = sourceMapFor(file);
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource) {
    const src = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource;
    return `${relative(root, resolve(dirname(file), src))}:${(entry.originalLine ?? 0) + 1}`;
  }
  return `${rel}:${frame.lineNumber + 1}`;
}

function category(frame: CallFrame, at: string): string {
  const name = frame.functionName;
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)' || name === '(idle)' || name === '(root)') return name;
  if (at.startsWith('src/core/store')) return 'engine: store';
  if (at.startsWith('src/core/model')) return 'engine: model client';
  if (at.startsWith('src/core/runs')) return 'engine: runs';
  if (at.startsWith('src/')) return 'engine: other';
  if (at.startsWith('bench/') || at.startsWith('test/')) return 'bench harness';
  if (at.includes('undici')) return 'node: undici (fetch)';
  if (at.startsWith('node:')) return 'node: internals';
  if (at.startsWith('openai/')) return 'openai SDK';
  if (at.includes('better-sqlite3')) return 'better-sqlite3 (JS side)';
  if (at.includes('zod')) return 'zod';
  if (!frame.url) return 'native / builtins';
  return 'other';
}

/** The top self-time functions and time per category of one .cpuprofile, as text. */
export function summarizeProfile(path: string, root: string, top = 30): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const fns = new Map<string, { name: string; at: string; cat: string; us: number }>();
  const cats = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const at = where(frame, root);
    const cat = category(frame, at);
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    const key = `${frame.functionName}@${at}`;
    const entry = fns.get(key) ?? { name: frame.functionName || '(anonymous)', at, cat, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(6)} ms`;
  const lines = [`busy (not idle): ${(busy / 1000).toFixed(0)} ms`, '', 'by category:'];
  for (const [cat, us] of [...cats].sort((a, b) => b[1] - a[1])) lines.push(`  ${pct(us)} ${ms(us)}  ${cat}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const f of [...fns.values()].sort((a, b) => b.us - a.us).slice(0, top)) {
    lines.push(`  ${pct(f.us)} ${ms(f.us)}  ${f.name}  ${f.at}`);
  }
  return lines.join('\n');
}
