import { InvalidInputError } from './errors.js';
import type { Principal } from './store/types.js';

/**
 * A principal from its id, the inverse of `principalId`: `cli:alice` (surface and user) or
 * `slack:T1:U123` (surface, tenant, user — a user id may itself hold colons). An id without a
 * surface (`alice`, as MCP tokens are often written) takes `opts.surface`; without one it is an
 * InvalidInputError.
 */
export function principalFromId(id: string, opts: { surface?: string } = {}): Principal {
  const parts = id.trim().split(':');
  if (parts.some((p) => p === '')) throw new InvalidInputError(`"${id}" is not a principal id: write surface:user (cli:alice) or surface:tenant:user (slack:T1:U123).`);
  if (parts.length === 1) {
    if (!opts.surface) throw new InvalidInputError(`"${id}" names no surface: write surface:user (cli:alice) or surface:tenant:user (slack:T1:U123).`);
    return { surface: opts.surface, userId: parts[0]! };
  }
  if (parts.length === 2) return { surface: parts[0]!, userId: parts[1]! };
  return { surface: parts[0]!, tenant: parts[1]!, userId: parts.slice(2).join(':') };
}
