import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArtifactStore, NewArtifact } from '../../src/core/artifacts/types.js';
import { ConfigError, SwitchboardError } from '../../src/core/errors.js';
import type { Store } from '../../src/core/store/types.js';
import { TINY_PNG_B64 } from './fake-openai.js';
import { bob, id } from './store-contract.js';

/**
 * The specs every ArtifactStore must pass, per dialect and with bytes in the database or in a
 * folder. `open` gives an initialised core store on an empty database and the artifact store beside it.
 */
export interface ArtifactsUnderTest {
  store: Store;
  artifacts: ArtifactStore;
  /** The folder the bytes are kept in, when the store under test keeps them in one. */
  dir?: string;
  /** Another artifact store on the same database, as another replica opens it (same folder, when there is one). */
  second(opts?: { dir?: string }): Promise<ArtifactStore>;
  cleanup(): Promise<void>;
}

export const PNG = Buffer.from(TINY_PNG_B64, 'base64');

export function describeArtifactContract(name: string, open: () => Promise<ArtifactsUnderTest>): void {
  describe(name, () => {
    let h: ArtifactsUnderTest;
    let conversationId = '';
    const fresh = (extra: Partial<NewArtifact> = {}): NewArtifact => ({
      id: id('art'),
      conversationId,
      runId: null,
      mediaType: 'image/png',
      name: 'dot.png',
      bytes: PNG,
      now: 5_000,
      ...extra,
    });

    beforeEach(async () => {
      h = await open();
      conversationId = (await h.store.getOrCreateConversation(`cli:${id('k')}`, bob, id('conv'))).conversation.id;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('keeps an artifact and gives back its metadata and the same bytes', async () => {
      const put = await h.artifacts.put(fresh({ runId: 'run_x' }));
      expect(put).toEqual({ id: put.id, conversationId, runId: 'run_x', mediaType: 'image/png', size: PNG.length, name: 'dot.png', createdAt: 5_000 });
      expect(await h.artifacts.get(put.id)).toEqual(put);
      const read = await h.artifacts.read(put.id);
      expect(read!.artifact).toEqual(put);
      expect(Buffer.from(read!.bytes).equals(PNG)).toBe(true);
    });

    it('answers null for an unknown id, and lists a conversation oldest first without the others', async () => {
      expect(await h.artifacts.get('art_nothing')).toBeNull();
      expect(await h.artifacts.read('art_nothing')).toBeNull();
      const b = await h.artifacts.put(fresh({ now: 7_000, name: null }));
      const a = await h.artifacts.put(fresh({ now: 6_000 }));
      const other = (await h.store.getOrCreateConversation(`cli:${id('k')}`, bob, id('conv'))).conversation.id;
      await h.artifacts.put(fresh({ conversationId: other }));
      expect((await h.artifacts.list(conversationId)).map((x) => x.id)).toEqual([a.id, b.id]);
      expect((await h.artifacts.list(conversationId))[1]!.name).toBeNull();
    });

    it('refuses an artifact of a conversation that does not exist', async () => {
      await expect(h.artifacts.put(fresh({ conversationId: 'conv_missing' }))).rejects.toThrow();
    });

    it('is read by another replica on the same database', async () => {
      const put = await h.artifacts.put(fresh({ bytes: Buffer.concat([PNG, Buffer.alloc(300_000, 7)]) }));
      const other = await h.second();
      const read = await other.read(put.id);
      expect(read!.bytes.length).toBe(PNG.length + 300_000);
      expect(read!.bytes[PNG.length + 10]).toBe(7);
    });

    if (name.includes('folder')) {
      it('writes each file whole into the folder (no temporary file left) and refuses a damaged copy', async () => {
        const put = await h.artifacts.put(fresh());
        expect(readdirSync(h.dir!)).toEqual([put.id]);
        truncateSync(join(h.dir!, put.id), 10);
        const err = await h.artifacts.read(put.id).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SwitchboardError);
        expect((err as SwitchboardError).code).toBe('artifact_unavailable');
        expect((err as Error).message).toContain('do not match');
      });

      it('tells a replica without the folder configured what to set', async () => {
        const put = await h.artifacts.put(fresh());
        const withoutDir = await h.second({ dir: '' });
        await expect(withoutDir.read(put.id)).rejects.toBeInstanceOf(ConfigError);
        await expect(withoutDir.read(put.id)).rejects.toThrow(/artifacts\.dir/);
      });
    }
  });
}
