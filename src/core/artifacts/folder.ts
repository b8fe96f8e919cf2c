/**
 * Artifact bytes in a folder every replica can read (`artifacts.dir`, e.g. a shared volume). A file is
 * written under a temporary name and renamed into place, so a reader on any replica sees either no
 * file or the whole file — never a half-written one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { ARTIFACT_ID, type ArtifactBlobs } from './types.js';

export class FolderArtifactBlobs implements ArtifactBlobs {
  readonly dir: string;
  #made = false;

  /** `dir` must be absolute (the config resolves it against the working directory). */
  constructor(dir: string) {
    this.dir = dir;
  }

  #file(id: string): string {
    // The id becomes a file name: only our own id shape, so no `..` or separators reach the path.
    if (!ARTIFACT_ID.test(id)) throw new InvalidInputError(`"${id}" is not an artifact id.`);
    return join(this.dir, id);
  }

  async put(id: string, bytes: Uint8Array): Promise<void> {
    const file = this.#file(id);
    if (!this.#made) {
      await mkdir(this.dir, { recursive: true });
      this.#made = true;
    }
    const temp = join(this.dir, `.${id}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(temp, bytes, { flag: 'wx' });
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async get(id: string): Promise<Uint8Array | null> {
    try {
      return await readFile(this.#file(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
}
