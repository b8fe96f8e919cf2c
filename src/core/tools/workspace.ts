/**
 * Per-conversation workspace helpers: every file a tool reads or writes lives inside the
 * conversation's workspace folder, and no path the model gives may lead out of it.
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../errors.js';

const RULE = 'Paths must be relative to the workspace and stay inside it (no absolute paths, no "..", no symlinks leading out).';

/** Creates the workspace folder if needed (mkdir -p) and returns its real absolute path. */
export async function ensureWorkspace(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return realpath(dir);
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Resolves `relPath` inside the workspace `dir` (created if missing) and returns the absolute path.
 * Refuses absolute paths, `..` escapes and symlinks that lead out of the workspace, with a
 * ToolError that explains the rule. The target itself need not exist (for writes); its deepest
 * existing ancestor is checked with realpath instead, and a dangling symlink is refused.
 */
export async function resolveInWorkspace(dir: string, relPath: string): Promise<string> {
  if (typeof relPath !== 'string') throw new ToolError(`Invalid path. ${RULE}`);
  if (relPath.includes('\0')) throw new ToolError(`Invalid path "${relPath}": it contains a NUL byte. ${RULE}`);
  const trimmed = relPath.trim();
  if (path.isAbsolute(trimmed) || path.win32.isAbsolute(trimmed) || trimmed.startsWith('~')) {
    throw new ToolError(`Refused path "${relPath}": absolute paths are not allowed. ${RULE}`);
  }
  const root = await ensureWorkspace(dir);
  const target = path.resolve(root, trimmed === '' ? '.' : trimmed);
  if (!isInside(root, target)) {
    throw new ToolError(`Refused path "${relPath}": it leads outside the workspace. ${RULE}`);
  }

  // Walk up to the deepest part that exists and check where it really points.
  let existing = target;
  const rest: string[] = [];
  for (;;) {
    try {
      const real = await realpath(existing);
      if (!isInside(root, real)) {
        throw new ToolError(`Refused path "${relPath}": it goes through a symlink that leads outside the workspace. ${RULE}`);
      }
      return rest.length ? path.join(real, ...rest.reverse()) : real;
    } catch (err) {
      if (err instanceof ToolError) throw err;
      if (!isNotFound(err)) throw new ToolError(`Cannot use path "${relPath}": ${(err as Error).message}`);
      // realpath failed: either nothing is there, or a dangling symlink is (which a write would follow).
      const isLink = await lstat(existing).then(
        (s) => s.isSymbolicLink(),
        () => false,
      );
      if (isLink) throw new ToolError(`Refused path "${relPath}": it goes through a broken symlink. ${RULE}`);
      const parent = path.dirname(existing);
      if (parent === existing) throw new ToolError(`Cannot use path "${relPath}".`);
      rest.push(path.basename(existing));
      existing = parent;
    }
  }
}

/** The path of `abs` relative to the workspace, with `/` separators, for showing to the model. */
export function workspaceRelative(root: string, abs: string): string {
  const rel = path.relative(root, abs);
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}
