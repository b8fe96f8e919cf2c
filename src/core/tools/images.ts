/**
 * The image agent's tool: generate an image with the configured image model and keep it as an
 * artifact of the conversation (readable by every replica and surface through its id).
 */
import { z } from 'zod';
import { imageExtensionFor, sniffImageMime } from '../artifacts/images.js';
import { artifactUri } from '../artifacts/types.js';
import { ModelCallError, ToolError } from '../errors.js';
import { defineTool } from '../runs/tool.js';

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

export const generateImageTool = defineTool({
  name: 'generate_image',
  description:
    'Generate an image from a text description. The image is kept as an artifact of the conversation; ' +
    'its reference (switchboard://artifacts/<id>) is returned (with the prompt the image model actually used). ' +
    'Pass that reference on to show or analyse the image.',
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
      if (!ctx.artifacts) throw new ToolError('This engine has no artifact store to keep the image in.');
      const mediaType = sniffImageMime(data);
      if (!mediaType) throw new ToolError('The image service returned data that is not a PNG, JPEG, GIF or WebP image.');
      const artifact = await ctx.artifacts.create({ bytes: data, mediaType, name: `${slugify(prompt)}.${imageExtensionFor(mediaType)}` });
      ctx.logger.debug('generate_image kept an artifact', { artifactId: artifact.id, bytes: data.length });
      return `Created the image ${artifactUri(artifact.id)} (artifact ${artifact.id}, ${mediaType}, ${data.length} bytes).${revised}`;
    }
    if (result.url) {
      return `The image is at ${result.url} (the image service returned a link, not data; such links may expire).${revised}`;
    }
    throw new ToolError('The image service returned no image.');
  },
});

export const imageTools = [generateImageTool] as const;
