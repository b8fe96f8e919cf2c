/**
 * The code agent's file tools: read, write and list files in the conversation's workspace.
 * Paths are checked by workspace.ts; the file itself is then opened without following a final
 * symlink and refused when it has other hard links (see `openInWorkspace`).
 */
import { lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from '../runs/tool.js';
import { describeFsError, ensureWorkspace, openInWorkspace, resolveInWorkspace, workspaceRelative } from './workspace.js';

/** Largest file `write_file` accepts. */
export const MAX_WRITE_BYTES = 1024 * 1024;
/** Most entries `list_files` shows. */
export const MAX_LIST_ENTRIES = 500;
/** Snippets passed as `code` are written to files with this prefix and removed after the run. */
export const SNIPPET_PREFIX = '.switchboard_snippet_';

/** The longest prefix of `buf` of at most `max` bytes that does not cut a UTF-8 character. */
function utf8Prefix(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = max;
  // Back off over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && end > max - 4 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

export const writeFileTool = defineTool({
  name: 'write_file',
  description:
    'Write a text file in the workspace (creates parent folders, overwrites an existing file). ' +
    `Paths are relative to the workspace. At most ${MAX_WRITE_BYTES} bytes.`,
  parameters: z.object({
    path: z.string().min(1).describe('File path relative to the workspace, e.g. "src/main.py"'),
    content: z.string().describe('The full text content of the file'),
  }),
  idempotent: true,
  annotations: { destructive: true },
  async execute({ path: relPath, content }, ctx) {
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > MAX_WRITE_BYTES) {
      throw new ToolError(`Content is ${bytes} bytes; write_file accepts at most ${MAX_WRITE_BYTES} bytes. Split it into smaller files.`);
    }
    const root = await ensureWorkspace(ctx.workspaceDir);
    const target = await resolveInWorkspace(root, relPath);
    if (target === root) throw new ToolError('Give a file path, not the workspace itself.');
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isDirectory()) throw new ToolError(`"${relPath}" is a directory; give a file path.`);
    try {
      await mkdir(path.dirname(target), { recursive: true });
    } catch (err) {
      throw new ToolError(`Cannot write "${relPath}": ${describeFsError(err)}.`);
    }
    const { handle } = await openInWorkspace(target, relPath, 'write');
    try {
      // Truncate only now: a refused file (a hard link, a FIFO) is left as it was.
      await handle.truncate(0);
      await handle.writeFile(content, 'utf8');
    } catch (err) {
      throw new ToolError(`Cannot write "${relPath}": ${describeFsError(err)}.`);
    } finally {
      await handle.close();
    }
    const shown = workspaceRelative(root, target);
    return `${existing ? 'Overwrote' : 'Wrote'} ${shown} (${bytes} bytes).`;
  },
});

export const readFileTool = defineTool({
  name: 'read_file',
  description: 'Read a text file from the workspace. Long files are truncated.',
  parameters: z.object({
    path: z.string().min(1).describe('File path relative to the workspace'),
  }),
  idempotent: true,
  annotations: { readOnly: true },
  async execute({ path: relPath }, ctx) {
    const root = await ensureWorkspace(ctx.workspaceDir);
    const target = await resolveInWorkspace(root, relPath);
    const { handle: fh, size } = await openInWorkspace(target, relPath, 'read');
    const cap = ctx.limits.codeOutputBytes;
    const want = Math.min(size, cap + 4);
    const buf = Buffer.alloc(want);
    let got = 0;
    try {
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } finally {
      await fh.close();
    }
    const data = buf.subarray(0, got);
    if (data.subarray(0, 8000).includes(0)) {
      return `${workspaceRelative(root, target)} is a binary file (${size} bytes); it cannot be shown as text.`;
    }
    const shown = utf8Prefix(data, cap);
    const text = shown.toString('utf8');
    if (size > shown.length) return `${text}\n[truncated ${size - shown.length} bytes]`;
    return text;
  },
});

export const listFilesTool = defineTool({
  name: 'list_files',
  description: `List files in the workspace (recursively; at most ${MAX_LIST_ENTRIES} entries). Folders end with "/".`,
  parameters: z.object({
    path: z.string().optional().describe('Folder relative to the workspace; the whole workspace when omitted'),
  }),
  idempotent: true,
  annotations: { readOnly: true },
  async execute({ path: relPath }, ctx) {
    const root = await ensureWorkspace(ctx.workspaceDir);
    const start = await resolveInWorkspace(root, relPath ?? '.');
    const info = await lstat(start).catch((err: unknown) => {
      throw new ToolError(`Cannot list "${relPath}": ${describeFsError(err)}.`);
    });
    if (info.isFile() && info.nlink > 1) return `${workspaceRelative(root, start)} (file, hard link: not readable)`;
    if (!info.isDirectory()) return `${workspaceRelative(root, start)} (file, ${info.size} bytes)`;

    const lines: string[] = [];
    let more = false;
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        lines.push(`${workspaceRelative(root, dir)}/ (unreadable: ${describeFsError(err)})`);
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        if (entry.name.startsWith(SNIPPET_PREFIX)) continue;
        if (lines.length >= MAX_LIST_ENTRIES) {
          more = true;
          return;
        }
        const abs = path.join(dir, entry.name);
        const rel = workspaceRelative(root, abs);
        if (entry.isDirectory()) {
          lines.push(`${rel}/`);
          await walk(abs);
          if (more) return;
        } else if (entry.isSymbolicLink()) {
          lines.push(`${rel} (symlink)`);
        } else {
          // lstat: what is here, not what a link leads to; a hard-linked file's size is not shown.
          const info = await lstat(abs).catch(() => undefined);
          if (info?.isFile() && info.nlink > 1) lines.push(`${rel} (hard link: not readable)`);
          else lines.push(info?.isFile() ? `${rel} (${info.size} bytes)` : rel);
        }
      }
    };
    await walk(start);
    const where = workspaceRelative(root, start);
    if (lines.length === 0) return where === '.' ? 'The workspace is empty.' : `${where}/ is empty.`;
    if (more) lines.push(`[listing stopped at ${MAX_LIST_ENTRIES} entries; list a subfolder to see more]`);
    return lines.join('\n');
  },
});
