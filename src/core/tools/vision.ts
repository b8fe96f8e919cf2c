/**
 * The vision agent's tool: ask a vision-capable model a question about an image from the
 * conversation's artifacts, the workspace, a web address or a data URL.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelCallError, ToolError } from '../errors.js';
import { sniffImageMime, type ImageMediaType } from '../artifacts/images.js';
import { artifactIdOf, ARTIFACT_URI_PREFIX } from '../artifacts/types.js';
import { defineTool, type ToolContext } from '../runs/tool.js';
import { resolveInWorkspace } from './workspace.js';

export const DEFAULT_VISION_MODEL = 'gpt-4o-mini';
/** Largest image the tool sends (the usual limit of vision APIs). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

const SYSTEM_PROMPT =
  'You analyse images precisely. Answer the question about the image directly and concretely: ' +
  'describe what is actually visible, read any text exactly, and say plainly when something cannot be ' +
  'determined from the image rather than guessing.';

const BY_EXTENSION: Record<string, ImageMediaType> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};

/** Reads a workspace image and returns it as a data URL, or throws a ToolError the model can act on. */
export async function workspaceImageToDataUrl(workspaceDir: string, relPath: string): Promise<string> {
  const abs = await resolveInWorkspace(workspaceDir, relPath);
  const info = await stat(abs).catch(() => undefined);
  if (!info) throw new ToolError(`No file "${relPath}" in the workspace. Give a workspace path, an http(s) URL or a data: URL.`);
  if (!info.isFile()) throw new ToolError(`"${relPath}" is not a file.`);
  if (info.size > MAX_IMAGE_BYTES) {
    throw new ToolError(`"${relPath}" is ${info.size} bytes; images may be at most ${MAX_IMAGE_BYTES} bytes (20 MB).`);
  }
  if (info.size === 0) throw new ToolError(`"${relPath}" is empty.`);
  const fh = await open(abs, 'r');
  let data: Buffer;
  try {
    data = await fh.readFile();
  } finally {
    await fh.close();
  }
  if (data.length > MAX_IMAGE_BYTES) {
    throw new ToolError(`"${relPath}" is larger than ${MAX_IMAGE_BYTES} bytes (20 MB).`);
  }
  const mime = sniffImageMime(data) ?? BY_EXTENSION[path.extname(abs).toLowerCase()];
  if (!mime) throw new ToolError(`"${relPath}" is not a PNG, JPEG, GIF or WebP image.`);
  return `data:${mime};base64,${data.toString('base64')}`;
}

/** An artifact of this conversation (`switchboard://artifacts/<id>`) as a data URL. */
async function artifactToDataUrl(ref: string, ctx: ToolContext): Promise<string> {
  const id = artifactIdOf(ref);
  const found = id && ctx.artifacts ? await ctx.artifacts.read(id) : null;
  if (!found) throw new ToolError(`No image ${ref} in this conversation. Use a reference you were given, an http(s) URL or a workspace path.`);
  if (!found.artifact.mediaType.startsWith('image/')) throw new ToolError(`${ref} is ${found.artifact.mediaType}, not an image.`);
  return `data:${found.artifact.mediaType};base64,${Buffer.from(found.bytes.buffer, found.bytes.byteOffset, found.bytes.length).toString('base64')}`;
}

const DATA_URL = /^data:(image\/(?:png|jpeg|jpg|gif|webp));base64,([A-Za-z0-9+/=\s]+)$/i;

/** Checks a data: URL the model passed in and returns it (normalised). */
function checkDataUrl(url: string): string {
  const m = DATA_URL.exec(url.trim());
  if (!m) throw new ToolError('The data: URL must be a base64 PNG, JPEG, GIF or WebP image (data:image/png;base64,...).');
  const b64 = (m[2] ?? '').replace(/\s+/g, '');
  const bytes = Math.floor((b64.length * 3) / 4);
  if (bytes > MAX_IMAGE_BYTES) throw new ToolError(`The image is about ${bytes} bytes; images may be at most ${MAX_IMAGE_BYTES} bytes (20 MB).`);
  const mime = (m[1] ?? '').toLowerCase().replace('image/jpg', 'image/jpeg');
  return `data:${mime};base64,${b64}`;
}

export const analyzeImageTool = defineTool({
  name: 'analyze_image',
  description:
    'Look at an image and answer a question about it (describe it, read text in it, compare details). ' +
    `The image may be an image reference (${ARTIFACT_URI_PREFIX}<id>), a workspace path (e.g. "images/chart.png"), an http(s) URL or a data: URL.`,
  parameters: z.object({
    image: z.string().min(1).describe(`Image reference (${ARTIFACT_URI_PREFIX}<id>), workspace path, http(s) URL or data: URL of the image`),
    question: z.string().min(1).describe('What to find out about the image'),
  }),
  idempotent: true,
  annotations: { readOnly: true, openWorld: true },
  async execute({ image, question }, ctx) {
    const ref = image.trim();
    let url: string;
    if (/^https?:\/\//i.test(ref)) {
      try {
        new URL(ref);
      } catch {
        throw new ToolError(`"${ref}" is not a valid URL.`);
      }
      url = ref;
    } else if (/^data:/i.test(ref)) {
      url = checkDataUrl(ref);
    } else if (ref.startsWith(ARTIFACT_URI_PREFIX)) {
      url = await artifactToDataUrl(ref, ctx);
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
      throw new ToolError(`Only image references (${ARTIFACT_URI_PREFIX}<id>), http(s) URLs, data: URLs and workspace paths are supported.`);
    } else {
      url = await workspaceImageToDataUrl(ctx.workspaceDir, ref);
    }

    const provider = ctx.agent.provider ?? 'default';
    const model = ctx.agent.visionModel ?? ctx.agent.model ?? DEFAULT_VISION_MODEL;
    ctx.progress('Looking at the image…');
    let result;
    try {
      result = await ctx.model.chat(
        {
          provider,
          model,
          messages: [
            { role: 'system', content: SYSTEM_PROMPT },
            { role: 'user', content: question, images: [url] },
          ],
        },
        { signal: ctx.signal },
      );
    } catch (err) {
      // e.g. an image URL the service cannot fetch, or an image it cannot decode.
      if (err instanceof ModelCallError && err.status === 400) {
        throw new ToolError(`The vision model could not use the image: ${err.message}`);
      }
      throw err;
    }
    const text = result.content?.trim();
    return text ? text : '(The vision model returned no answer.)';
  },
});

export const visionTools = [analyzeImageTool] as const;
