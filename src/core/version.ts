import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * This package's version. Found by walking up from this module to our package.json, because the
 * module may run from dist/ (tsc) or from a bundle chunk (the CLI) at another depth.
 */
export function packageVersion(): string {
  if (cached) return cached;
  cached = '0.0.0';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'switchboard') {
        cached = pkg.version ?? cached;
        break;
      }
    } catch {
      // not here: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cached;
}
