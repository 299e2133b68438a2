// Runs a rollout plan (cli/rollout-plan.ts): one stage after another, at most
// MAX_PARALLEL_SERVERS hosts at once inside a stage. A stage with a failure stops the
// rollout: the hosts of later stages are never contacted and come back as
// skipped. Delivery and waiting are injected, so this is tested without I/O.

import { MAX_PARALLEL_SERVERS, mapBounded } from './commands/context.js';
import type { RolloutPlan } from './rollout-plan.js';

export interface RolloutHooks<T> {
  deliver(host: string): Promise<T>;
  ok(result: T): boolean;
  skipped(host: string, reason: string): T;
  sleep(ms: number): Promise<void>;
  /** Before a stage's boot.wait pause. */
  onWait?(seconds: number, nextHosts: string[]): void;
}

/** Results in rollout order (the primary first). */
export async function runRollout<T>(plan: RolloutPlan, hooks: RolloutHooks<T>): Promise<T[]> {
  const results: T[] = [];
  let stopReason: string | undefined;
  for (const stage of plan.stages) {
    if (stopReason !== undefined) {
      for (const host of stage.hosts) results.push(hooks.skipped(host, stopReason));
      continue;
    }
    if (stage.waitBefore > 0) {
      hooks.onWait?.(stage.waitBefore, stage.hosts);
      await hooks.sleep(stage.waitBefore * 1000);
    }
    const stageResults = await mapBounded(stage.hosts, MAX_PARALLEL_SERVERS, (host) => hooks.deliver(host));
    results.push(...stageResults);
    const failed = stage.hosts.filter((_, i) => !hooks.ok(stageResults[i] as T));
    if (failed.length > 0) {
      stopReason = stage.kind === 'primary' ? `the primary host ${failed.join(', ')} failed` : `an earlier batch failed (${failed.join(', ')})`;
    }
  }
  return results;
}
