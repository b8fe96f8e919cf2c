import type { IdGenerator } from '../ids.js';
import type { RunEvent } from '../runs/active-run.js';
import type { Run } from '../store/types.js';
import type { ArtifactStore, ConversationArtifacts } from './types.js';

/** One run's view of the artifact store: creates in its conversation (announced), reads only from it. */
export function conversationArtifacts(
  store: ArtifactStore,
  run: Pick<Run, 'id' | 'conversationId'>,
  deps: { ids: IdGenerator; clock: () => number; emit: (event: RunEvent) => void },
): ConversationArtifacts {
  return {
    async create({ bytes, mediaType, name }) {
      const artifact = await store.put({ id: deps.ids('art'), conversationId: run.conversationId, runId: run.id, mediaType, name: name ?? null, bytes, now: deps.clock() });
      deps.emit({ type: 'artifact.created', artifactId: artifact.id, mediaType, size: artifact.size, ...(artifact.name ? { name: artifact.name } : {}) });
      return artifact;
    },
    async read(id) {
      // Metadata first: another conversation's bytes are never loaded.
      const artifact = await store.get(id);
      return artifact?.conversationId === run.conversationId ? store.read(id) : null;
    },
  };
}
