// One launch of a job: the concurrency policy, the run row, the container, the
// ending, and for a failure the audit row, the notify hook and the retry.
// Always the CURRENT release's image, environment and command: a job scheduled
// under one release runs with the next once that one is live.
import { AGENT_ACTOR, FAILED_CRON_OUTCOMES, type CronRun, type CronTrigger, type JWK } from '../../shared/api-types.js';
import { ConflictError, RateLimitError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { Logger } from '../log.js';
import type { Unseal } from '../engine/role-secrets.js';
import type { Store } from '../store/index.js';
import type { CronClock, JobEntry } from './jobs.js';
import { NOTIFY_OUTPUT_TAIL_CHARS, sendFailureNotice, type Notifier } from './notify.js';
import type { CronRunner, OutputChunkText } from './runner.js';

/** The longest wait before a retry, however many attempts came before. */
const MAX_RETRY_DELAY_MS = 3_600_000;

export interface LaunchDeps {
  store: Store;
  log: Logger;
  runner: CronRunner;
  notify: Notifier;
  clock: CronClock;
  agentId: string;
  hostname: string;
  sealingPrivateJwk: JWK;
  unseal?: Unseal;
  /** Cron containers this agent runs at once, all jobs together. */
  maxRunning: number;
  /** How many run now (all entries). */
  runningCount(): number;
  /** Whether the job is still scheduled and not paused (a retry checks before it starts). */
  stillWanted(entry: JobEntry): boolean;
}

export interface LaunchRequest {
  trigger: CronTrigger;
  attempt: number;
  scheduledAt: number | null;
  /** Manual runs only: the caller sees the output as it comes. */
  onOutput?: (chunk: OutputChunkText) => void;
  /** Manual runs only: the run row once written (before the container starts). */
  onStart?: (run: CronRun) => void;
}

function currentRelease(store: Store, entry: JobEntry): { manifest: ManifestPayload; deployId: number } | undefined {
  const current = store.current(entry.ref.service, entry.ref.destination);
  const manifest = current ? store.getRelease(current.deploy_id)?.payload : undefined;
  if (!current || !manifest?.cron?.[entry.ref.job]) return undefined;
  return { manifest, deployId: current.deploy_id };
}

/**
 * Starts a run of `entry` and resolves with its row once it ended (or was
 * skipped); undefined when the job is no longer in the current release. A
 * manual launch that cannot start throws the 409/429 the operator should see.
 */
export async function launch(deps: LaunchDeps, entry: JobEntry, req: LaunchRequest): Promise<CronRun | undefined> {
  const release = currentRelease(deps.store, entry);
  if (!release) return undefined;
  const spec = release.manifest.cron?.[entry.ref.job];
  if (!spec) return undefined;
  const manual = req.trigger === 'manual';
  const base = {
    ...entry.ref, trigger: req.trigger, attempt: req.attempt, scheduledAt: req.scheduledAt,
    release: release.manifest.version, image: release.manifest.image,
  };
  const skip = (reason: string) => deps.store.cron.startRun({ ...base, outcome: 'skipped', reason });

  if (entry.running.size > 0 && spec.concurrency === 'forbid') {
    const [id] = entry.running.keys();
    const reason = `run #${id} is still running (concurrency: forbid)`;
    if (manual) throw new ConflictError(`${entry.ref.job}: ${reason}`, 'wait for it to end, or set concurrency: allow or replace', 'cron_running');
    return skip(reason);
  }
  const replacing = spec.concurrency === 'replace' ? [...entry.running.values()] : [];
  if (deps.runningCount() - replacing.length >= deps.maxRunning) {
    const reason = `this agent already runs ${deps.maxRunning} cron jobs at once (berth-agent run --cron-max-running)`;
    if (manual) throw new RateLimitError(reason);
    return skip(reason);
  }
  for (const r of replacing) r.handle.stop('replaced', 'a newer run replaced it (concurrency: replace)');
  // A new run supersedes a retry that was still waiting.
  if (req.trigger !== 'retry') {
    entry.cancelRetry?.();
    entry.cancelRetry = undefined;
  }

  const row = deps.store.cron.startRun({ ...base, outcome: 'running' });
  req.onStart?.(row);
  const handle = deps.runner({ manifest: release.manifest, deployId: release.deployId, job: entry.ref.job, spec }, req.onOutput);
  let markSettled = () => {};
  entry.running.set(row.id, { handle, settled: new Promise<void>((r) => (markSettled = r)) });
  let finished: CronRun | undefined;
  try {
    const result = await handle.done;
    const failed = FAILED_CRON_OUTCOMES.has(result.outcome);
    finished = deps.store.cron.finishRun(row.id, {
      ...result,
      ...(failed
        ? {
            audit: {
              keyId: AGENT_ACTOR,
              action: 'cron.failed',
              service: entry.ref.service,
              destination: entry.ref.destination,
              detail: { job: entry.ref.job, run: row.id, trigger: req.trigger, attempt: req.attempt, outcome: result.outcome, exit_code: result.exitCode, reason: result.reason, release: release.manifest.version },
            },
          }
        : {}),
    });
  } finally {
    entry.running.delete(row.id);
    markSettled();
  }
  if (finished && FAILED_CRON_OUTCOMES.has(finished.outcome)) {
    void notifyFailure(deps, release.manifest, finished);
    if (!manual && req.attempt <= spec.retries && finished.outcome !== 'interrupted') scheduleRetry(deps, entry, req, spec.retry_backoff);
  }
  return finished;
}

function scheduleRetry(deps: LaunchDeps, entry: JobEntry, failed: LaunchRequest, backoffS: number): void {
  const delay = Math.min(backoffS * 1000 * 2 ** (failed.attempt - 1), MAX_RETRY_DELAY_MS);
  entry.cancelRetry?.();
  entry.cancelRetry = deps.clock.after(delay, () => {
    entry.cancelRetry = undefined;
    if (!deps.stillWanted(entry)) return;
    launch(deps, entry, { trigger: 'retry', attempt: failed.attempt + 1, scheduledAt: failed.scheduledAt }).catch((e: unknown) =>
      deps.log.error('cron: a retry failed to launch', { job: entry.ref.job, service: entry.ref.service, err: e }),
    );
  });
}

/** The hook's answer is recorded on the run; a failing hook gets its own audit row. */
export async function notifyFailure(deps: Pick<LaunchDeps, 'store' | 'log' | 'notify' | 'sealingPrivateJwk' | 'unseal' | 'hostname' | 'agentId'>, manifest: ManifestPayload, run: CronRun): Promise<void> {
  const outcome = await sendFailureNotice(deps, manifest, {
    event: 'cron.failed',
    service: run.service,
    destination: run.destination,
    job: run.job,
    host: deps.hostname,
    agent: deps.agentId,
    run: run.id,
    trigger: run.trigger,
    attempt: run.attempt,
    outcome: run.outcome,
    exit_code: run.exit_code,
    reason: run.reason,
    release: run.release,
    started_at: run.started_at,
    ended_at: run.ended_at,
    output_tail: lastChars(run.output, NOTIFY_OUTPUT_TAIL_CHARS),
  });
  if (outcome === undefined) return;
  try {
    deps.store.cron.setNotify(run.id, outcome);
    if (outcome !== 'sent') {
      deps.store.audit.record({
        keyId: AGENT_ACTOR, action: 'cron.notify_failed', service: run.service, destination: run.destination,
        detail: { job: run.job, run: run.id, error: outcome.replace(/^failed: /, '') },
      });
    }
  } catch (e) {
    // The store may be closing (agent shutdown); the run itself is recorded already.
    deps.log.warn('cron: could not record the notify outcome', { job: run.job, err: e });
  }
}

/** The last `n` UTF-16 units of `text`, never starting in the middle of a surrogate pair. */
function lastChars(text: string, n: number): string {
  if (text.length <= n) return text;
  const tail = text.slice(text.length - n);
  const first = tail.charCodeAt(0);
  return first >= 0xdc00 && first <= 0xdfff ? tail.slice(1) : tail;
}
