import { randomBytes } from 'node:crypto';

/** Produces ids; injectable so tests and benchmarks can make them deterministic. */
export type IdGenerator = (prefix: string) => string;

let last = 0;
let counter = 0;

// Random tails come from a pooled buffer: one system call per ~800 ids instead of one per id.
const POOL_SIZE = 4096;
const TAIL = 5;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function randomTail(): string {
  if (offset + TAIL > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  offset += TAIL;
  return pool.toString('hex', offset - TAIL, offset);
}

/**
 * Time-ordered ids (`run_lx3k9a0f00a1b2c3d4e5`): sortable by creation, unique across processes
 * through the random tail, and short enough to type into `switchboard approve`.
 */
export const defaultIds: IdGenerator = (prefix) => {
  const now = Date.now();
  counter = now === last ? counter + 1 : 0;
  last = now;
  return `${prefix}_${now.toString(36)}${counter.toString(36).padStart(2, '0')}${randomTail()}`;
};
