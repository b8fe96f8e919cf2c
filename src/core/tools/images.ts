/**
 * The image agent's tool: generate an image with the configured image model and keep it in the
 * conversation's workspace under `images/`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelCallError, ToolError } from '../errors.js';
import { defineTool } from '../runs/tool.js';
import { ensureWorkspace, workspaceRelative } from './workspace.js';

export const DEFAULT_IMAGE_MODEL = 'gpt-image-1';
export const IMAGE_SIZES = ['1024x1024', '1024x1536', '1536x1024', 'auto'] as const;

/** A short file-name-safe slug of the prompt. */
export function slugify(text: string, max = 40): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
  return slug || 'image';
}

/** The file extension for image bytes, by their magic numbers (PNG when unknown). */
export function imageExtension(data: Buffer): 'png' | 'jpg' | 'gif' | 'webp' {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpg';
  if (data.subarray(0, 4).toString('latin1') === 'GIF8') return 'gif';
  if (data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return 'png';
}

function timestamp(d = new Date()): string {
  // 20250101-120000-123: sortable and safe in every file system.
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').replace('.', '-').replace('Z', '');
}

export const generateImageTool = defineTool({
  name: 'generate_image',
  description:
    'Generate an image from a text description. The image is saved in the workspace under images/ ' +
    'and the saved path is returned (with the prompt the image model actually used).',
  parameters: z.object({
    prompt: z.string().min(1).max(32_000).describe('A detailed description of the image to create'),
    size: z.enum(IMAGE_SIZES).optional().describe('Image size; "auto" lets the model choose'),
  }),
  idempotent: false,
  annotations: { openWorld: true },
  async execute({ prompt, size }, ctx) {
    const provider = ctx.agent.provider ?? 'default';
    const model = ctx.agent.imageModel ?? DEFAULT_IMAGE_MODEL;
    ctx.progress('Generating the image…');
    let result;
    try {
      result = await ctx.model.generateImage({ provider, model, prompt, ...(size ? { size } : {}) }, { signal: ctx.signal });
    } catch (err) {
      // A request the service refuses (content policy, unsupported size) is for the model to fix.
      if (err instanceof ModelCallError && err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 403 && err.status !== 429) {
        throw new ToolError(`The image service refused the request: ${err.message}`);
      }
      throw err;
    }
    const revised = result.revisedPrompt ? `\nRevised prompt: ${result.revisedPrompt}` : '';

    if (result.b64) {
      const data = Buffer.from(result.b64, 'base64');
      if (data.length === 0) throw new ToolError('The image service returned empty image data.');
      const root = await ensureWorkspace(ctx.workspaceDir);
      const dir = path.join(root, 'images');
      await mkdir(dir, { recursive: true });
      const base = `${timestamp()}-${slugify(prompt)}`;
      const ext = imageExtension(data);
      let file = '';
      for (let n = 0; ; n++) {
        file = path.join(dir, `${base}${n ? `-${n}` : ''}.${ext}`);
        try {
          await writeFile(file, data, { flag: 'wx' });
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 20) throw err;
        }
      }
      const rel = workspaceRelative(root, file);
      ctx.logger.debug('generate_image saved', { path: rel, bytes: data.length });
      return `Saved the image to ${rel} (${data.length} bytes, in the conversation workspace).${revised}`;
    }
    if (result.url) {
      return `The image is at ${result.url} (the image service returned a link, not data; such links may expire).${revised}`;
    }
    throw new ToolError('The image service returned no image.');
  },
});

export const imageTools = [generateImageTool] as const;
