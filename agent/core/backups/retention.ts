// PURE: which stored backup files retention deletes after a good run. Good
// backups (ok and stored): the `keep` newest stay; older than `max_age` go,
// except the newest good one (a backup that stopped working never leaves the
// operator with nothing). A file kept only for inspection (its verify failed)
// goes once a newer good backup exists, or when it is beyond `keep`.

export interface RetentionRow {
  id: number;
  outcome: string;
  verify: 'passed' | 'failed' | null;
  startedAtMs: number;
}

export interface RetentionRule {
  keep: number;
  /** Seconds; undefined: no age limit. */
  maxAgeS?: number | undefined;
}

/** Ids whose files go, from the stored rows of one backup (any order). */
export function retentionPlan(rows: readonly RetentionRow[], rule: RetentionRule, nowMs: number): number[] {
  const newestFirst = [...rows].sort((a, b) => b.id - a.id);
  const good = newestFirst.filter((r) => r.outcome === 'ok');
  const newestGood = good[0];
  const doomed = new Set<number>();
  good.forEach((r, i) => {
    if (i >= rule.keep) doomed.add(r.id);
    else if (rule.maxAgeS !== undefined && r !== newestGood && nowMs - r.startedAtMs > rule.maxAgeS * 1000) doomed.add(r.id);
  });
  newestFirst.forEach((r, i) => {
    if (r.outcome !== 'failed' || r.verify !== 'failed') return;
    if ((newestGood !== undefined && newestGood.id > r.id) || i >= rule.keep) doomed.add(r.id);
  });
  return newestFirst.filter((r) => doomed.has(r.id)).map((r) => r.id);
}
