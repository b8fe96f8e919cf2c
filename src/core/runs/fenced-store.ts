import { LeaseLostError } from '../errors.js';
import type { Store } from '../store/types.js';

/**
 * The store as the run loops see it: every step write carries this process's lease, so a loop
 * whose run another process took over writes nothing more (LeaseLostError) and is stopped before
 * the error reaches it (`onLost`) — it then ends like a shutdown, leaving the run to its new owner.
 */
export function fencedStore(store: Store, leaseOwner: string, onLost: (runId: string) => void): Store {
  const stop = (runId: string | null) => (err: unknown): never => {
    if (err instanceof LeaseLostError && runId) onLost(runId);
    throw err;
  };
  const writes: Partial<Store> = {
    recordModelStep: (step, message, opts) => store.recordModelStep({ ...step, leaseOwner }, message, opts).catch(stop(step.runId)),
    startToolStep: (step) => store.startToolStep({ ...step, leaseOwner }).catch(stop(step.runId)),
    finishToolStep: (stepId, status, message) => store.finishToolStep(stepId, status, message, { leaseOwner }).catch(stop(message.runId)),
    recordToolStep: (step, message) => store.recordToolStep({ ...step, leaseOwner }, message).catch(stop(step.runId)),
  };
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(writes, prop)) return writes[prop as keyof Store];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
