// PURE: the bake window's decisions. After a release goes live the agent
// checks it about once a second for `bake` seconds; this module says which
// checks there are, whether a round of results means the release failed, and
// how much of a window is left after a restart. The watcher (engine/bake.ts)
// only observes and acts.
import type { DeployRecord } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { roleOf } from './containers.js';

/** Consecutive failed health probes of one role that fail the bake. */
export const BAKE_FAILURES_TO_FAIL = 3;
export const BAKE_TICK_MS = 1000;

export interface BakeHttpCheck {
  role: string;
  port: number;
  path: string;
  timeoutSeconds: number;
}

/** The HTTP checks of a release: one per proxied role, the same request as the deploy's health check. */
export function bakeHttpChecks(m: ManifestPayload): BakeHttpCheck[] {
  return Object.keys(m.roles)
    .sort()
    .flatMap((role) => {
      const proxy = roleOf(m, role).proxy;
      return proxy ? [{ role, port: proxy.app_port, path: proxy.healthcheck.path, timeoutSeconds: proxy.healthcheck.timeout }] : [];
    });
}

/** Whether a deploy that reached DONE gets a bake window: a revert the agent made never does (no ping-pong). */
export function bakeSeconds(d: Pick<DeployRecord, 'state' | 'trigger'>, m: Pick<ManifestPayload, 'bake'>): number | undefined {
  if (d.state !== 'DONE' || d.trigger === 'bake-revert' || m.bake === undefined) return undefined;
  return m.bake;
}

/** Milliseconds left of a window that opened at `openedAtMs`; 0 once it has passed. */
export function bakeRemainingMs(openedAtMs: number, seconds: number, nowMs: number): number {
  if (!Number.isFinite(openedAtMs)) return 0;
  return Math.max(0, openedAtMs + seconds * 1000 - nowMs);
}

/** What one round saw of a role's container; `replica` from a role's second container on. */
export type ContainerObservation =
  | { role: string; replica?: number; name: string; state: 'running'; restartCount: number }
  | { role: string; replica?: number; name: string; state: 'stopped'; exitCode: number | null }
  | { role: string; replica?: number; name: string; state: 'gone' };

export interface ProbeObservation {
  role: string;
  replica?: number;
  path: string;
  port: number;
  ok: boolean;
  /** `HTTP 500`, or the network error. */
  detail: string;
}

export interface BakeRound {
  containers: ContainerObservation[];
  probes: ProbeObservation[];
}

/** What restarts and failures are counted under: the role, `role/N` for its further replicas. */
export function bakeKey(o: { role: string; replica?: number }): string {
  return o.replica !== undefined && o.replica > 1 ? `${o.role}/${o.replica}` : o.role;
}

/** Consecutive failures per role and each role's restart count when the window opened (keys: bakeKey). */
export interface BakeTally {
  failures: Record<string, number>;
  restarts: Record<string, number>;
}

export type BakeVerdict = { failed: false; tally: BakeTally } | { failed: true; reason: string; tally: BakeTally };

export function openTally(restarts: Record<string, number>): BakeTally {
  return { failures: {}, restarts: { ...restarts } };
}

/**
 * A container that stopped, vanished or was restarted by Docker fails the bake
 * at once; a health check fails it after BAKE_FAILURES_TO_FAIL failures in a
 * row (one slow answer is not an outage). A passing probe resets its count.
 */
export function judgeRound(tally: BakeTally, round: BakeRound): BakeVerdict {
  for (const c of round.containers) {
    if (c.state === 'gone') return { failed: true, reason: `${c.role}: container ${c.name} was removed`, tally };
    if (c.state === 'stopped') {
      return { failed: true, reason: `${c.role}: container ${c.name} stopped (exit code ${c.exitCode ?? 'unknown'})`, tally };
    }
    const before = tally.restarts[bakeKey(c)];
    if (before !== undefined && c.restartCount > before) {
      return { failed: true, reason: `${c.role}: container ${c.name} exited and was restarted by Docker`, tally };
    }
  }
  const failures = { ...tally.failures };
  const next: BakeTally = { ...tally, failures };
  for (const p of round.probes) {
    const key = bakeKey(p);
    failures[key] = p.ok ? 0 : (failures[key] ?? 0) + 1;
    if ((failures[key] ?? 0) >= BAKE_FAILURES_TO_FAIL) {
      return {
        failed: true,
        reason: `${key}: health check GET ${p.path} on port ${p.port} failed ${failures[key]} times in a row (last: ${p.detail})`,
        tally: next,
      };
    }
  }
  return { failed: false, tally: next };
}
