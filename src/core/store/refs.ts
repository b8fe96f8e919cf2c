import { z } from 'zod';
import { InvalidInputError, SwitchboardError } from '../errors.js';

/**
 * Surface references: the handles an adapter keeps for its own objects per run, approval, plan,
 * conversation or artifact (Slack: `{ channel, ts }` of the message that shows it; Teams: a
 * conversation reference and an activity id). They live in the database, so a restarted or another
 * replica can edit the message that shows a step, or finish a streamed reply.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const SURFACE_REF_KINDS = ['conversation', 'run', 'approval', 'plan', 'artifact'] as const;
export type SurfaceRefKind = (typeof SURFACE_REF_KINDS)[number];

export interface SurfaceRefStore {
  /** Creates the table when missing; safe to call more than once. */
  init(): Promise<void>;
  /** Stores `data`, replacing what was there. */
  put(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<void>;
  /**
   * Stores `data` only when nothing is stored yet: of several replicas claiming one reference,
   * exactly one gets `claimed: true`; every caller gets the data that is stored.
   */
  claim(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<{ claimed: boolean; data: Json }>;
  get(surface: string, kind: SurfaceRefKind, id: string): Promise<Json | null>;
  delete(surface: string, kind: SurfaceRefKind, id: string): Promise<void>;
}

const MAX_DATA_CHARS = 64_000;

const RefKey = z.object({
  surface: z.string().min(1, 'the surface is empty').max(100),
  kind: z.enum(SURFACE_REF_KINDS, { message: `the kind must be one of ${SURFACE_REF_KINDS.join(', ')}` }),
  id: z.string().min(1, 'the id is empty').max(500),
});

/** Checks a reference's key (and its data, when given) at the boundary; returns the data as JSON text. */
export function checkRef(surface: string, kind: string, id: string, data?: Json): string | undefined {
  const parsed = RefKey.safeParse({ surface, kind, id });
  if (!parsed.success) throw new InvalidInputError(`Invalid surface reference: ${parsed.error.issues.map((i) => i.message).join('; ')}.`);
  if (data === undefined) return undefined;
  // `get` answers null for "nothing stored", so null cannot be stored.
  if (data === null) throw new InvalidInputError('Invalid surface reference: the data is null; delete the reference instead.');
  const text = JSON.stringify(data);
  if (text === undefined) throw new InvalidInputError('Invalid surface reference: the data is not JSON.');
  if (text.length > MAX_DATA_CHARS) throw new InvalidInputError(`Surface reference data has ${text.length} characters; the limit is ${MAX_DATA_CHARS}.`);
  return text;
}


/** The refs of an engine on a Store that keeps no references (a custom Store): every call says so. */
export const unavailableRefs: SurfaceRefStore = {
  init: async () => {},
  put: () => refsUnavailable(),
  claim: () => refsUnavailable(),
  get: () => refsUnavailable(),
  delete: () => refsUnavailable(),
};

function refsUnavailable(): Promise<never> {
  return Promise.reject(new SwitchboardError('refs_unavailable', 'Surface references need a store that keeps them: pass `persistence` (or a SqliteStore / PostgresStore) to createSwitchboard.'));
}
