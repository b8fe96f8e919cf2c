import { InvalidInputError, NotFoundError, SwitchboardError } from '../errors.js';
import type { IdGenerator } from '../ids.js';
import { checkImageInput, type ImageInput } from './images.js';
import { artifactUri, type Artifact, type ArtifactStore } from './types.js';
import type { Conversation, Principal } from '../store/types.js';

/** Without an artifact store, images sent as bytes have nowhere to go. */
function unavailable(): SwitchboardError {
  return new SwitchboardError('artifacts_unavailable', 'Images sent as bytes need an artifact store: pass `artifacts` to createSwitchboard, or use a SQLite or PostgreSQL store.');
}

/**
 * The images of an incoming message as the references its stored message keeps: https URLs as they
 * are, bytes (and data: URLs) as new artifacts of the conversation. Every image is checked before
 * any is stored, so a message with one bad image stores nothing.
 */
export async function intakeImages(
  images: readonly ImageInput[] | undefined,
  ctx: { conversationId: string; maxBytes: number; artifacts: ArtifactStore | null; ids: IdGenerator; clock: () => number },
): Promise<string[] | undefined> {
  if (!images?.length) return undefined;
  if (!Array.isArray(images)) throw new InvalidInputError('`images` must be a list.');
  const checked = images.map((image, i) => checkImageInput(image, ctx.maxBytes, i));
  const refs: string[] = [];
  for (const [i, c] of checked.entries()) {
    if (c.kind === 'url') {
      refs.push(c.url);
      continue;
    }
    if (!ctx.artifacts) throw unavailable();
    if (c.kind === 'artifact') {
      // An image the conversation already has (one the team generated, say) may be sent again; another conversation's may not.
      const known = await ctx.artifacts.get(c.id);
      if (!known || known.conversationId !== ctx.conversationId) throw new InvalidInputError(`Image ${i + 1}: no artifact "${c.id}" in this conversation.`);
      refs.push(artifactUri(c.id));
      continue;
    }
    const artifact = await ctx.artifacts.put({ id: ctx.ids('art'), conversationId: ctx.conversationId, runId: null, mediaType: c.mediaType, name: c.name, bytes: c.bytes, now: ctx.clock() });
    refs.push(artifactUri(artifact.id));
  }
  return refs;
}

/** `readArtifact` / `listArtifacts` of the face: whoever may see the conversation may see its artifacts. */
export function artifactFace(
  artifacts: ArtifactStore | null,
  getConversation: (id: string, principal?: Principal) => Promise<Conversation>,
) {
  const need = (): ArtifactStore => {
    if (!artifacts) throw unavailable();
    return artifacts;
  };
  return {
    async readArtifact(id: string, principal?: Principal): Promise<{ artifact: Artifact; bytes: Uint8Array }> {
      const store = need();
      const artifact = await store.get(id);
      if (!artifact) throw new NotFoundError('artifact', id);
      await getConversation(artifact.conversationId, principal);
      const found = await store.read(id);
      if (!found) throw new NotFoundError('artifact', id);
      return found;
    },
    async listArtifacts(conversationId: string, principal?: Principal): Promise<Artifact[]> {
      const store = need();
      await getConversation(conversationId, principal);
      return store.list(conversationId);
    },
  };
}
