/**
 * Artifacts: files the team makes or receives (generated images, images people send), kept where
 * every replica can read them — in the database, or in a folder all replicas share — and named by
 * id, never by a path on one machine's disk.
 */

export interface Artifact {
  id: string;
  conversationId: string;
  /** The run that made it; null for what a person sent (it arrives before its run exists). */
  runId: string | null;
  /** `image/png`, `image/jpeg`, ... */
  mediaType: string;
  /** Bytes. */
  size: number;
  name: string | null;
  createdAt: number;
}

export interface NewArtifact {
  id: string;
  conversationId: string;
  runId: string | null;
  mediaType: string;
  name: string | null;
  bytes: Uint8Array;
  now: number;
}

/** Artifacts of one database: metadata in a table, bytes in the database or in a shared folder. */
export interface ArtifactStore {
  /** Creates the tables (migrations 50-59) on the main store's connection; idempotent. */
  init(): Promise<void>;
  /** Stores the bytes, then the row that points at them, so a row never names missing bytes. */
  put(artifact: NewArtifact): Promise<Artifact>;
  get(id: string): Promise<Artifact | null>;
  /** The artifact with its bytes, or null when there is no such artifact. */
  read(id: string): Promise<{ artifact: Artifact; bytes: Uint8Array } | null>;
  /** Oldest first. */
  list(conversationId: string): Promise<Artifact[]>;
}

export interface ArtifactStoreOptions {
  /** Keep bytes in this folder (absolute; shared by every replica) instead of the database. */
  dir?: string;
}

/** What a tool sees of artifacts: its own conversation's only. */
export interface ConversationArtifacts {
  /** Keeps the bytes as an artifact of this conversation and run, and announces it (`artifact.created`). */
  create(input: { bytes: Uint8Array; mediaType: string; name?: string }): Promise<Artifact>;
  /** An artifact of this conversation with its bytes; null for an unknown id or another conversation's. */
  read(id: string): Promise<{ artifact: Artifact; bytes: Uint8Array } | null>;
}

/** Where the bytes of artifacts kept outside the database live (`artifacts.dir`). */
export interface ArtifactBlobs {
  put(id: string, bytes: Uint8Array): Promise<void>;
  /** null when the file is missing. */
  get(id: string): Promise<Uint8Array | null>;
}

/** Where a row's bytes are: `store` (the artifact_bytes table) or `dir` (the configured folder). */
export type ArtifactLocation = 'store' | 'dir';

/** URI of an artifact, as messages reference it and MCP serves it. */
export const ARTIFACT_URI_PREFIX = 'switchboard://artifacts/';

export const artifactUri = (id: string): string => `${ARTIFACT_URI_PREFIX}${id}`;

/** The artifact id a `switchboard://artifacts/<id>` reference names, else undefined. */
export function artifactIdOf(ref: string): string | undefined {
  if (!ref.startsWith(ARTIFACT_URI_PREFIX)) return undefined;
  const id = ref.slice(ARTIFACT_URI_PREFIX.length);
  return ARTIFACT_ID.test(id) ? id : undefined;
}

/** Ids are ours (`art_...`); anything else is refused before it reaches a file name or a query. */
export const ARTIFACT_ID = /^[a-z]+_[a-z0-9]{1,64}$/;
