// Runs a rollout plan (plan.ts): one stage after another, each stage on the
// host loop (hosts.ts), at most MAX_PARALLEL_SERVERS hosts at once. A stage
// with a failure stops the rollout: the hosts of later stages are never
// contacted and come back skipped. Delivery and waiting are injected, so this
// is tested without I/O.

import { MAX_PARALLEL_SERVERS, onEachHost, type HostOutcome } from './hosts.js';
import type { RolloutPlan } from './plan.js';

export interface RolloutHooks<T> {
  /** One host's delivery (settle() turns a throw into its failure). */
  deliver(host: string): Promise<HostOutcome<T>>;
  sleep(ms: number): Promise<void>;
  /** Before a stage's boot.wait pause. */
  onWait?(seconds: number, nextHosts: string[]): void;
  /** As each delivered host's outcome is known. */
  onOutcome?(outcome: HostOutcome<T>): void;
}

export interface RolloutResult<T> {
  /** In rollout order (the primary first); a skipped host is a failure whose error says why it was skipped. */
  outcomes: Array<HostOutcome<T>>;
  /** Hosts never contacted because an earlier stage failed. */
  skipped: string[];
}

export async function runRollout<T>(plan: RolloutPlan, hooks: RolloutHooks<T>): Promise<RolloutResult<T>> {
  const outcomes: Array<HostOutcome<T>> = [];
  const skipped: string[] = [];
  let stopReason: string | undefined;
  for (const stage of plan.stages) {
    if (stopReason !== undefined) {
      for (const host of stage.hosts) {
        skipped.push(host);
        outcomes.push({ host, ok: false, error: `skipped: ${stopReason}`, cause: undefined });
      }
      continue;
    }
    if (stage.waitBefore > 0) {
      hooks.onWait?.(stage.waitBefore, stage.hosts);
      await hooks.sleep(stage.waitBefore * 1000);
    }
    const stageOutcomes = await onEachHost(stage.hosts, (host) => hooks.deliver(host), {
      limit: MAX_PARALLEL_SERVERS,
      ...(hooks.onOutcome ? { onOutcome: hooks.onOutcome } : {}),
    });
    outcomes.push(...stageOutcomes);
    const failed = stageOutcomes.filter((o) => !o.ok).map((o) => o.host);
    if (failed.length > 0) {
      stopReason = stage.kind === 'primary' ? `the primary host ${failed.join(', ')} failed` : `an earlier batch failed (${failed.join(', ')})`;
    }
  }
  return { outcomes, skipped };
}
