// Moving a deploy row to the state a test needs along the legal transitions
// (shared/api-types.ts DEPLOY_TRANSITIONS), as the engine would: the store
// refuses shortcuts like RECEIVED → DONE.
import { canMoveDeploy, type DeployState } from '../../shared/api-types.js';
import type { DeployRecord, Store } from '../../agent/store/index.js';

const HAPPY: readonly DeployState[] = ['RECEIVED', 'VERIFIED', 'PULLED', 'STARTED', 'HEALTHY', 'SWITCHED', 'DRAINED', 'DONE'];

export function moveDeploy(store: Pick<Store, 'getDeploy' | 'setState'>, id: number, target: DeployState, error?: string): DeployRecord {
  const now = store.getDeploy(id)?.state;
  if (now === undefined) throw new Error(`no deploy ${id}`);
  if (canMoveDeploy(now, target)) return store.setState(id, target, error);
  const from = HAPPY.indexOf(now);
  const to = HAPPY.indexOf(target);
  let record = store.getDeploy(id)!;
  for (const state of HAPPY.slice(from + 1, to + 1)) record = store.setState(id, state, error);
  return record;
}
