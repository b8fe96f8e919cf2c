import { randomBytes } from 'node:crypto';

/** Produces ids; injectable so tests and benchmarks can make them deterministic. */
export type IdGenerator = (prefix: string) => string;

let last = 0;
let counter = 0;

/**
 * Time-ordered ids (`run_lx3k9a0f00a1b2c3d4e5`): sortable by creation, unique across processes
 * through the random tail, and short enough to type into `switchboard approve`.
 */
export const defaultIds: IdGenerator = (prefix) => {
  const now = Date.now();
  counter = now === last ? counter + 1 : 0;
  last = now;
  return `${prefix}_${now.toString(36)}${counter.toString(36).padStart(2, '0')}${randomBytes(5).toString('hex')}`;
};
