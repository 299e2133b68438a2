// PURE: when the agent next asks the registry where a polled tag points. A
// fleet that shares one policy must not poll at the same second, so every
// (agent, service) gets its own stable offset within ±10% of the interval; a
// failing registry is asked less and less often, and a registry that says
// Retry-After is not asked before then. The poller only keeps time and counts.
import { RegistryError } from '../../shared/errors.js';

/** How far a (agent, service) pair's period sits from the interval: ±10%. */
export const POLL_JITTER = 0.1;
/** Backoff grows up to this many intervals… */
export const POLL_BACKOFF_MAX_INTERVALS = 8;
/** …and no further than an hour, unless the interval itself is longer. */
export const POLL_BACKOFF_CAP_MS = 60 * 60 * 1000;
/** A Retry-After further than this is read as this (a registry's typo must not stop polling for days). */
export const RETRY_AFTER_CAP_MS = 6 * 60 * 60 * 1000;

/** The last lookup: `error` carries the registry's Retry-After when it sent one (429, 503). */
export type PollOutcome = { kind: 'ok' } | { kind: 'error'; retryAfterMs?: number | undefined };

export interface PollInput {
  intervalMs: number;
  agentId: string;
  service: string;
  outcome: PollOutcome;
  /** Failed lookups in a row, the last one included (0 after a success). */
  consecutiveFailures: number;
  nowMs: number;
}

/** The lookup's outcome as the schedule reads it: a RegistryError's Retry-After is kept. */
export function pollOutcome(err?: unknown): PollOutcome {
  if (err === undefined) return { kind: 'ok' };
  return { kind: 'error', retryAfterMs: err instanceof RegistryError ? err.answer.retryAfterMs : undefined };
}

/** A stable number in [-1, 1) for the pair (FNV-1a): the same agent and service always get the same offset. */
export function pollJitter(agentId: string, service: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${agentId}\u0000${service}`) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h / 2 ** 32) * 2 - 1;
}

/** The epoch milliseconds of the next poll, and the wait until then. */
export function nextPoll(p: PollInput): { atMs: number; delayMs: number } {
  if (!Number.isFinite(p.intervalMs) || p.intervalMs <= 0) throw new RangeError(`poll interval must be a positive number of milliseconds, got ${p.intervalMs}`);
  const factor = 1 + POLL_JITTER * pollJitter(p.agentId, p.service);
  let delayMs: number;
  if (p.outcome.kind === 'ok') {
    delayMs = p.intervalMs * factor;
  } else {
    // Never more often than the interval: an error waits at least one period, then doubles.
    const cap = Math.max(p.intervalMs, Math.min(p.intervalMs * POLL_BACKOFF_MAX_INTERVALS, POLL_BACKOFF_CAP_MS));
    const failures = Math.max(1, Math.floor(p.consecutiveFailures));
    const backoff = Math.min(cap, p.intervalMs * 2 ** Math.min(failures - 1, 30)) * factor;
    const retryAfter = Math.min(Math.max(0, p.outcome.retryAfterMs ?? 0), RETRY_AFTER_CAP_MS);
    delayMs = Math.max(backoff, retryAfter);
  }
  delayMs = Math.round(delayMs);
  return { atMs: p.nowMs + delayMs, delayMs };
}
