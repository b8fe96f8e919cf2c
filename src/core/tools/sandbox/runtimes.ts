/**
 * The language runtimes `run_code` starts, and the host folders each needs to see (read-only)
 * inside the sandbox: a pyenv Python or an nvm Node lives in a user's home, not under /usr.
 */
import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';

export type Language = 'python' | 'node';

export interface Runtime {
  /** Absolute path of the interpreter (the same path inside the sandbox), or a bare name when not found. */
  command: string;
  /** Flags that go before the script. */
  flags: string[];
  /** Host folders the interpreter needs, made visible read-only at the same path. */
  dirs: string[];
}

function realDir(file: string): string {
  try {
    return path.dirname(realpathSync(file));
  } catch {
    return path.dirname(file);
  }
}

let python: Promise<Runtime> | undefined;

/**
 * The real Python interpreter behind `python3` and its prefixes (a venv's and its base's), found once
 * with the engine's environment, so version-manager shims (pyenv, asdf) still work when the child
 * gets a minimal environment.
 */
function resolvePython(): Promise<Runtime> {
  const probe = 'import sys, json; print(json.dumps([sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]))';
  python ??= new Promise((resolve) => {
    execFile('python3', ['-c', probe], { timeout: 10_000 }, (err, stdout) => {
      let found: unknown;
      try {
        found = JSON.parse(String(stdout ?? ''));
      } catch {
        found = undefined;
      }
      const parts = Array.isArray(found) ? found.filter((p): p is string => typeof p === 'string' && path.isAbsolute(p)) : [];
      const exe = parts[0];
      if (err || !exe) {
        resolve({ command: 'python3', flags: [], dirs: [] });
        return;
      }
      resolve({ command: exe, flags: [], dirs: [path.dirname(exe), realDir(exe), ...parts.slice(1)] });
    });
  });
  return python;
}

/** Node flags that make a `.js` snippet run whether it is written as CommonJS or as an ES module. */
function nodeFlags(): string[] {
  const major = Number(process.versions.node.split('.')[0]);
  return major < 22 && process.allowedNodeEnvironmentFlags.has('--experimental-detect-module') ? ['--experimental-detect-module'] : [];
}

/** Node is the engine's own binary: it needs nothing but its folder (and the system libraries under /usr). */
export function nodeRuntime(): Runtime {
  return { command: process.execPath, flags: nodeFlags(), dirs: [path.dirname(process.execPath), realDir(process.execPath)] };
}

export async function resolveRuntime(language: Language): Promise<Runtime> {
  return language === 'python' ? resolvePython() : nodeRuntime();
}
