/** What a scenario reports: named numbers, each with its unit and, where the issue sets one, a target. */
export interface Metric {
  name: string;
  /** null when the scenario could not measure it (the note says why). */
  value: number | string | null;
  unit: string;
  /** Human-readable target, e.g. "< 0.5". */
  target?: string;
  /** Whether the target is met; absent when there is no target. */
  ok?: boolean;
  note?: string;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  title: string;
  /** What was run: repetitions, latency, sizes. */
  params: Record<string, unknown>;
  metrics: Metric[];
  /** Extra data kept in results.json (not printed). */
  details?: Record<string, unknown>;
  durationMs?: number;
}

export interface ScenarioOptions {
  quick: boolean;
}

export const SCENARIOS = ['delegate', 'fanout', 'long-thread', 'concurrency', 'cold-start', 'load', 'load-replicas', 'teams', 'slack'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** Long load runs: only when named (`npm run bench -- load`, `-- load-replicas`), not part of "everything". */
export const ON_DEMAND: readonly ScenarioName[] = ['load', 'load-replicas', 'teams', 'slack'];

export function metric(name: string, value: number | string | null, unit: string, extra: Omit<Metric, 'name' | 'value' | 'unit'> = {}): Metric {
  return { name, value, unit, ...extra };
}
