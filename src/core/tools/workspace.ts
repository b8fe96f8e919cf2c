/**
 * Per-conversation workspace helpers: every file a tool reads or writes lives inside the
 * conversation's workspace folder, and no path the model gives may lead out of it.
 */
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
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

/** A file system error in words a model (or person) can act on. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file or directory';
  if (e?.code === 'EISDIR') return 'it is a directory';
  if (e?.code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied';
  if (e?.code === 'ELOOP') return 'it is a symlink';
  if (e?.code === 'ENXIO') return 'it is not a regular file';
  // Node's messages name the absolute host path; the code alone says enough.
  return e?.code ?? (e?.message || String(err));
}

/**
 * Opens a file that `resolveInWorkspace` returned, to read it or to write it (created if missing),
 * and checks the opened file itself, so nothing can be swapped in between the check and the use:
 *
 * - O_NOFOLLOW: a symlink put in place of the file after the path check is refused, not followed;
 *   O_NONBLOCK: a FIFO cannot make the tool wait forever (and is refused as not a regular file).
 * - One name only (nlink === 1). A hard link is another name for the same inode, and nothing in the
 *   path says where the other names are: one made (outside the sandbox, or before it existed) to
 *   another conversation's file would let read_file read it and write_file change it. Finding the
 *   other names is impossible without scanning every workspace, so every regular file with more than
 *   one link is refused; links inside one workspace are rare, and code in the sandbox cannot link to
 *   anything outside its workspace (nothing else is mounted there, and links do not cross mounts).
 */
export async function openInWorkspace(target: string, relPath: string, mode: 'read' | 'write'): Promise<{ handle: FileHandle; size: number }> {
  const flags =
    (mode === 'read' ? constants.O_RDONLY : constants.O_WRONLY | constants.O_CREAT) | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
  let handle: FileHandle;
  try {
    handle = await open(target, flags, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new ToolError(`Refused path "${relPath}": it is a symlink. ${RULE}`);
    const hint = mode === 'read' ? ' Use list_files to see what exists.' : '';
    throw new ToolError(`Cannot ${mode} "${relPath}": ${describeFsError(err)}.${hint}`);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new ToolError(`"${relPath}" is a directory; ${mode === 'read' ? 'use list_files to see its contents' : 'give a file path'}.`);
    if (!info.isFile()) throw new ToolError(`"${relPath}" is not a regular file.`);
    if (info.nlink > 1) {
      throw new ToolError(
        `Refused "${relPath}": it is a hard link (the same file has ${info.nlink} names), and another name may be outside the workspace. Copy the content into a new file instead.`,
      );
    }
    return { handle, size: info.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}
