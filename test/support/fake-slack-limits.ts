/**
 * Slack's rate tiers as the fake enforces them: per workspace and method, at most `perMinute` calls in
 * any 60 s, counted as calls arrive (as Slack counts them).
 */
import { performance } from 'node:perf_hooks';

export function tierLimiter(limits: Record<string, number>): {
  /** Counts the call; null when it is within its tier, else the Retry-After (seconds) of the 429 to answer. */
  take(team: string, method: string): number | null;
} {
  const windows = new Map<string, number[]>();
  return {
    take(team, method) {
      const limit = limits[method];
      if (limit === undefined) return null;
      let w = windows.get(`${team} ${method}`);
      if (!w) windows.set(`${team} ${method}`, (w = []));
      const now = performance.now();
      while (w.length > 0 && w[0]! <= now - 60_000) w.shift();
      if (w.length >= limit) return Math.max(1, Math.ceil((w[0]! + 60_000 - now) / 1000));
      w.push(now);
      return null;
    },
  };
}
