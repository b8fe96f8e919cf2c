/**
 * Messages keep images as references (`switchboard://artifacts/<id>` or an https URL); the model needs
 * the image itself. This wraps the model client so that every chat request has its artifact references
 * replaced by data URLs built from the artifact's bytes just before it is sent — wherever the request
 * comes from (a run's thread, the vision tool) — and tells the model each image's reference, so it can
 * hand the image on (to the vision agent, say) by naming it.
 */
import type { ChatMessage, ChatRequest, ModelClient } from '../model/types.js';
import { artifactIdOf, type ArtifactStore } from './types.js';

/** Data URLs kept for images resent on every turn of a thread; artifacts never change, so they never go stale. */
const CACHE_BYTES = 64 * 1024 * 1024;

export function withArtifactImages(model: ModelClient, artifacts: ArtifactStore): ModelClient {
  const cache = new Map<string, string>();
  let cached = 0;
  const dataUrl = async (id: string): Promise<string> => {
    const hit = cache.get(id);
    if (hit !== undefined) {
      cache.delete(id);
      cache.set(id, hit); // most recently used last
      return hit;
    }
    const found = await artifacts.read(id);
    // A reference to nothing stays as it is: the model service then says it cannot use it.
    if (!found) return `switchboard://artifacts/${id}`;
    const url = `data:${found.artifact.mediaType};base64,${Buffer.from(found.bytes.buffer, found.bytes.byteOffset, found.bytes.length).toString('base64')}`;
    cache.set(id, url);
    cached += url.length;
    for (const [key, value] of cache) {
      if (cached <= CACHE_BYTES) break;
      cache.delete(key);
      cached -= value.length;
    }
    return url;
  };

  const resolve = async (m: ChatMessage): Promise<ChatMessage> => {
    if (m.role !== 'user' || !m.images?.length) return m;
    const images = await Promise.all(m.images.map((ref) => {
      const id = artifactIdOf(ref);
      return id ? dataUrl(id) : ref;
    }));
    const names = m.images.map((ref, i) => `[image ${i + 1}: ${ref}]`).join('\n');
    return { ...m, content: m.content ? `${m.content}\n\n${names}` : names, images };
  };

  return {
    async chat(request: ChatRequest, options) {
      // The hot path: requests without images go through untouched.
      if (!request.messages.some((m) => m.role === 'user' && m.images?.length)) return model.chat(request, options);
      return model.chat({ ...request, messages: await Promise.all(request.messages.map(resolve)) }, options);
    },
    generateImage: (request, options) => model.generateImage(request, options),
  };
}
