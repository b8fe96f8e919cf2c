/** Small statistics over samples: quantiles by linear interpolation between closest ranks. */

export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);
export const p95 = (samples: readonly number[]): number => quantile(samples, 0.95);

export function mean(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : samples.reduce((a, b) => a + b, 0) / samples.length;
}

/** Total length of the union of intervals: time during which at least one of them was open. */
export function unionLength(intervals: readonly (readonly [number, number])[]): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/** CPU milliseconds (user + system) since `since`. */
export function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** Spans grouped by their task tag (spans without a tag are left out). */
export function byTag<S extends { tag: string | null }>(spans: readonly S[]): Map<string, S[]> {
  const out = new Map<string, S[]>();
  for (const s of spans) {
    if (!s.tag) continue;
    const list = out.get(s.tag) ?? [];
    list.push(s);
    out.set(s.tag, list);
  }
  return out;
}

/** Sum of the spans' lengths: time spent inside the model server. */
export const serverMs = (spans: readonly { arrival: number; finish: number }[]): number => spans.reduce((sum, s) => sum + (s.finish - s.arrival), 0);

export const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

export function summary(samples: readonly number[]): { n: number; median: number; p95: number; min: number; max: number } {
  return { n: samples.length, median: round(median(samples)), p95: round(p95(samples)), min: round(Math.min(...samples)), max: round(Math.max(...samples)) };
}

/** A number for a table: three significant digits or so. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return a >= 100 ? n.toFixed(0) : a >= 10 ? n.toFixed(1) : a >= 1 ? n.toFixed(2) : n.toFixed(3);
}
