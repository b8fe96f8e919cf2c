/** What the SQLite and PostgreSQL artifact stores share: the row shape, and everything but the SQL. */
import { createHash } from 'node:crypto';
import { ConfigError, SwitchboardError } from '../errors.js';
import { FolderArtifactBlobs } from './folder.js';
import type { Artifact, ArtifactBlobs, ArtifactLocation, ArtifactStore, ArtifactStoreOptions, NewArtifact } from './types.js';

export interface ArtifactRow {
  id: string;
  conversation_id: string;
  run_id: string | null;
  media_type: string;
  size: number | string;
  name: string | null;
  sha256: string;
  location: ArtifactLocation;
  created_at: number | string;
}

/** The columns `list` and `get` read: never the bytes. */
export const ARTIFACT_COLUMNS = 'id, conversation_id, run_id, media_type, size, name, sha256, location, created_at';

export function toArtifact(r: ArtifactRow): Artifact {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    runId: r.run_id,
    mediaType: r.media_type,
    size: Number(r.size),
    name: r.name,
    createdAt: Number(r.created_at),
  };
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The row values of a new artifact, in ARTIFACT_COLUMNS order. */
export function artifactValues(a: NewArtifact, location: ArtifactLocation): unknown[] {
  return [a.id, a.conversationId, a.runId, a.mediaType, a.bytes.length, a.name, sha256(a.bytes), location, a.now];
}

/** Bytes of an artifact whose row was found but whose bytes were not (or not whole). */
export class ArtifactUnavailableError extends SwitchboardError {
  constructor(id: string, why: string) {
    super('artifact_unavailable', `The bytes of artifact "${id}" cannot be read: ${why}`);
  }
}

/**
 * The bytes a row names: from the database (`fromStore`) or the folder. Checked against the row's
 * hash, so a truncated copy on a shared volume is an error rather than a broken image.
 */
async function bytesOf(row: ArtifactRow, fromStore: () => Promise<Uint8Array | null>, blobs: ArtifactBlobs | undefined): Promise<Uint8Array> {
  let bytes: Uint8Array | null;
  if (row.location === 'dir') {
    if (!blobs) throw new ConfigError(`Artifact "${row.id}" is kept in a folder, but this process has no \`artifacts.dir\` configured: set it to the folder the other replicas use.`);
    bytes = await blobs.get(row.id);
    if (!bytes) throw new ArtifactUnavailableError(row.id, 'its file is missing from the artifacts folder.');
  } else {
    bytes = await fromStore();
    if (!bytes) throw new ArtifactUnavailableError(row.id, 'its bytes are missing from the database.');
  }
  if (bytes.length !== Number(row.size) || sha256(bytes) !== row.sha256) {
    throw new ArtifactUnavailableError(row.id, `the stored bytes (${bytes.length}) do not match the recorded ${row.size} bytes and hash.`);
  }
  return bytes;
}

/** An artifact store over SQL tables; each dialect gives its queries. */
export abstract class SqlArtifactStore implements ArtifactStore {
  readonly #blobs: ArtifactBlobs | undefined;

  constructor(opts: ArtifactStoreOptions) {
    this.#blobs = opts.dir ? new FolderArtifactBlobs(opts.dir) : undefined;
  }

  abstract init(): Promise<void>;
  abstract list(conversationId: string): Promise<Artifact[]>;
  protected abstract row(id: string): Promise<ArtifactRow | undefined>;
  /** The bytes in the artifact_bytes table, or null. */
  protected abstract storedBytes(id: string): Promise<Uint8Array | null>;
  /** Inserts the row and, for `store`, its bytes, in one transaction. */
  protected abstract insert(a: NewArtifact, location: ArtifactLocation): Promise<void>;

  async put(a: NewArtifact): Promise<Artifact> {
    // The file first: a row that exists always names bytes that exist.
    if (this.#blobs) await this.#blobs.put(a.id, a.bytes);
    await this.insert(a, this.#blobs ? 'dir' : 'store');
    return (await this.get(a.id))!;
  }

  async get(id: string): Promise<Artifact | null> {
    const row = await this.row(id);
    return row ? toArtifact(row) : null;
  }

  async read(id: string): Promise<{ artifact: Artifact; bytes: Uint8Array } | null> {
    const row = await this.row(id);
    if (!row) return null;
    return { artifact: toArtifact(row), bytes: await bytesOf(row, () => this.storedBytes(id), this.#blobs) };
  }
}
