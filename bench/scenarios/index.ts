import type { ScenarioName, ScenarioOptions, ScenarioResult } from '../types.js';
import { coldStart } from './cold-start.js';
import { concurrency } from './concurrency.js';
import { delegate } from './delegate.js';
import { fanout } from './fanout.js';
import { loadReplicas } from './load-replicas.js';
import { load } from './load.js';
import { longThread } from './long-thread.js';
import { slack } from './slack.js';
import { teams } from './teams.js';

export const scenarios: Record<ScenarioName, (opts: ScenarioOptions) => Promise<ScenarioResult>> = {
  delegate,
  fanout,
  'long-thread': longThread,
  concurrency,
  'cold-start': coldStart,
  'load-replicas': loadReplicas,
  load,
  slack,
  teams,
};
