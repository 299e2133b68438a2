// PURE: the order in which a release reaches many servers, as data. Like
// Kamal: the primary host (the primary role's first host) goes first, alone,
// as a barrier; then the others in `boot.limit` batches with `boot.wait`
// seconds between stages. The executor (rollout.ts) runs the stages.

import type { BootConfig } from '../config/types.js';

export interface RolloutStage {
  kind: 'primary' | 'batch';
  hosts: string[];
  /** Seconds to wait before this stage starts (boot.wait; 0 for the first). */
  waitBefore: number;
}

export interface RolloutPlan {
  primary: string | undefined;
  stages: RolloutStage[];
}

/** Hosts per batch: a count, or a percentage of all hosts (Kamal rounds down), at least 1. */
export function batchSize(limit: BootConfig['limit'], totalHosts: number): number {
  if (limit === undefined) return Math.max(1, totalHosts);
  if (typeof limit === 'number') return Math.max(1, Math.floor(limit));
  const percent = Number.parseInt(limit, 10);
  return Math.max(1, Math.floor((totalHosts * percent) / 100));
}

/**
 * `hosts` in deploy.yml order; `primary` the primary role's first host (if it
 * is not among `hosts`, the first host is the barrier instead).
 */
export function planRollout(hosts: readonly string[], primary: string | undefined, boot: BootConfig): RolloutPlan {
  const unique = [...new Set(hosts)];
  if (unique.length === 0) return { primary: undefined, stages: [] };
  const first = primary !== undefined && unique.includes(primary) ? primary : unique[0]!;
  const rest = unique.filter((h) => h !== first);
  const size = boot.limit === undefined ? Math.max(1, rest.length) : batchSize(boot.limit, unique.length);
  const wait = boot.wait ?? 0;
  const stages: RolloutStage[] = [{ kind: 'primary', hosts: [first], waitBefore: 0 }];
  for (let i = 0; i < rest.length; i += size) stages.push({ kind: 'batch', hosts: rest.slice(i, i + size), waitBefore: wait });
  return { primary: first, stages };
}

/** Every host of the plan in the order it is deployed. */
export function rolloutOrder(plan: RolloutPlan): string[] {
  return plan.stages.flatMap((s) => s.hosts);
}
