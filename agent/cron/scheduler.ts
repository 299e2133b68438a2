// The agent's cron: one timer per job of each service's CURRENT release,
// re-read whenever a deploy ends (a new release reschedules; a job whose
// schedule did not change keeps its timer, so a switch never misses or doubles
// a slot). The last slot handled is stored, so after a restart a job whose
// time passed while the agent was down runs once, as a catch-up, however many
// slots it missed. Maintenance mode and locks do not stop cron; pause does.
import type { CronRun, DeployRecord } from '../../shared/api-types.js';
import { AGENT_ACTOR } from '../../shared/api-types.js';
import { parseCronSchedule } from '../../shared/cron-schedule.js';
import type { CronJobSpec } from '../../shared/manifest-cron.js';
import { NotFoundError } from '../../shared/errors.js';
import { LABEL } from '../core/containers.js';
import type { DockerPort } from '../docker.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { WHOLE_SERVICE, type CronJobRef } from '../store/cron-repo.js';
import { jobKey, realClock, type CronClock, type JobEntry } from './jobs.js';
import { launch, notifyFailure, type LaunchDeps } from './launch.js';
import { postNotify } from './notify.js';
import { CRON_KIND, type CronRunner, type OutputChunkText } from './runner.js';
import type { JWK } from '../../shared/api-types.js';
import type { Unseal } from '../engine/role-secrets.js';

/** How long shutdown waits for stopped runs to record their ending. */
const STOP_WAIT_MS = 5_000;

export interface CronSchedulerDeps {
  store: Store;
  docker: Pick<DockerPort, 'listContainers' | 'remove'>;
  runner: CronRunner;
  log: Logger;
  agentId: string;
  hostname: string;
  sealingPrivateJwk: JWK;
  unseal?: Unseal;
  notify?: LaunchDeps['notify'];
  /** Cron containers running at once, all services together (berth-agent run --cron-max-running). */
  maxRunning: number;
  clock?: CronClock;
}

export interface ServiceRef {
  service: string;
  destination: string;
}

export interface CronScheduler {
  /** Interrupted runs of a previous process recorded, jobs scheduled, missed slots caught up (once each). */
  start(): Promise<void>;
  /** Re-reads every service's current release (called as each deploy ends; cheap). */
  refresh(): void;
  /** A manual run (`deploy cron run`): resolves with the ended run; throws 404/409/429 before anything starts. */
  runNow(ref: CronJobRef, onOutput: (chunk: OutputChunkText) => void, onStart?: (run: CronRun) => void): Promise<CronRun>;
  /** Pause or resume one job, or with `job` undefined the whole service. */
  setPaused(ref: ServiceRef & { job?: string | undefined }, paused: boolean, keyId: string): void;
  /** The job entries of a service (status answers read them). */
  entries(ref: ServiceRef): JobEntry[];
  /** A removed service: its timers cancelled, its running jobs stopped and their containers removed, its cron rows dropped. */
  serviceRemoved(ref: ServiceRef): Promise<void>;
  /** Shutdown: no more timers; running jobs are stopped and recorded as interrupted. */
  stop(): Promise<void>;
  /** Runs under way on this agent (tests and status). */
  runningCount(): number;
}

export function createCronScheduler(deps: CronSchedulerDeps): CronScheduler {
  const clock = deps.clock ?? realClock;
  const entries = new Map<string, JobEntry>();
  // Entries a release dropped while a run of theirs was under way: the run goes
  // on, so it still counts against the cap and shutdown still stops it.
  const retired = new Set<JobEntry>();
  let stopped = false;

  const isPaused = (ref: CronJobRef): boolean =>
    deps.store.cron.state({ ...ref, job: WHOLE_SERVICE })?.paused === true || deps.store.cron.state(ref)?.paused === true;

  const live = (): JobEntry[] => {
    for (const e of retired) if (e.running.size === 0) retired.delete(e);
    return [...entries.values(), ...retired];
  };
  const runningCount = () => live().reduce((n, e) => n + e.running.size, 0);

  const launchDeps: LaunchDeps = {
    store: deps.store,
    log: deps.log,
    runner: deps.runner,
    notify: deps.notify ?? postNotify,
    clock,
    agentId: deps.agentId,
    hostname: deps.hostname,
    sealingPrivateJwk: deps.sealingPrivateJwk,
    ...(deps.unseal ? { unseal: deps.unseal } : {}),
    maxRunning: deps.maxRunning,
    runningCount,
    stillWanted: (entry) => !stopped && entries.get(entry.key) === entry && !isPaused(entry.ref),
  };

  const background = (entry: JobEntry, trigger: 'schedule' | 'catch-up', scheduledAt: number) => {
    launch(launchDeps, entry, { trigger, attempt: 1, scheduledAt }).catch((e: unknown) =>
      deps.log.error('cron: a run failed to launch', { service: entry.ref.service, job: entry.ref.job, err: e }),
    );
  };

  function disarm(entry: JobEntry): void {
    entry.cancelTimer?.();
    entry.cancelTimer = undefined;
    entry.nextAt = null;
  }

  function arm(entry: JobEntry, from: number): void {
    disarm(entry);
    if (stopped || isPaused(entry.ref)) return;
    const slot = entry.schedule.next(from);
    entry.nextAt = slot;
    const wake = () => {
      if (entries.get(entry.key) !== entry || entry.nextAt !== slot) return;
      const now = clock.now();
      // A long wait is armed in steps; a timer may also wake a hair early.
      if (now < slot - 1) {
        entry.cancelTimer = clock.after(slot - now, wake);
        return;
      }
      deps.store.cron.setLastSlot(entry.ref, slot);
      // Slots that passed while the event loop was blocked are dropped, not run in a burst.
      arm(entry, Math.max(slot, now));
      background(entry, 'schedule', slot);
    };
    entry.cancelTimer = clock.after(slot - clock.now(), wake);
  }

  function sameSchedule(a: CronJobSpec, b: CronJobSpec): boolean {
    return a.schedule === b.schedule && a.timezone === b.timezone;
  }

  function refresh(): void {
    if (stopped) return;
    const wanted = new Set<string>();
    for (const s of deps.store.services()) {
      if (!s.current) continue;
      const jobs = deps.store.getRelease(s.current.deploy_id)?.payload.cron ?? {};
      for (const [job, spec] of Object.entries(jobs)) {
        const ref = { service: s.name, destination: s.destination, job };
        const key = jobKey(ref);
        wanted.add(key);
        const old = entries.get(key);
        if (old && sameSchedule(old.spec, spec)) {
          old.spec = spec;
          continue;
        }
        if (old) disarm(old);
        let schedule;
        try {
          schedule = parseCronSchedule(spec.schedule, spec.timezone);
        } catch (e) {
          // The release validated when it was accepted; a runtime that lost the zone is worth a loud line.
          deps.log.error('cron: a stored schedule no longer parses; the job is not scheduled', { service: s.name, job, err: e });
          continue;
        }
        const entry: JobEntry = { key, ref, spec, schedule, nextAt: null, running: old?.running ?? new Map() };
        entries.set(key, entry);
        const state = deps.store.cron.ensureState(ref);
        // A new job, or a schedule a release changed, has missed nothing yet: the slots
        // of the old schedule say nothing about the new one after a restart.
        if (state.lastSlot === null || old) deps.store.cron.setLastSlot(ref, clock.now());
        arm(entry, clock.now());
      }
      deps.store.cron.forgetJobs(s.name, s.destination, Object.keys(jobs));
    }
    for (const [key, entry] of entries) {
      if (wanted.has(key)) continue;
      disarm(entry);
      entry.cancelRetry?.();
      entries.delete(key);
      if (entry.running.size > 0) retired.add(entry);
    }
  }

  function catchUp(): void {
    const now = clock.now();
    for (const entry of entries.values()) {
      if (isPaused(entry.ref)) continue;
      const last = deps.store.cron.state(entry.ref)?.lastSlot;
      if (last === null || last === undefined) continue;
      const missed = entry.schedule.next(last);
      if (missed > now) continue;
      deps.store.cron.setLastSlot(entry.ref, now);
      background(entry, 'catch-up', missed);
    }
  }

  const onFinal = (_r: DeployRecord) => {
    try {
      refresh();
    } catch (e) {
      deps.log.error('cron: reading the jobs failed', { err: e });
    }
  };

  function ofService(ref: ServiceRef): JobEntry[] {
    return [...entries.values()].filter((e) => e.ref.service === ref.service && e.ref.destination === ref.destination);
  }

  return {
    async start() {
      const interrupted = deps.store.cron.interruptRunning('the agent stopped during the run', (run) => ({
        keyId: AGENT_ACTOR, action: 'cron.failed', service: run.service, destination: run.destination,
        detail: { job: run.job, run: run.id, trigger: run.trigger, attempt: run.attempt, outcome: run.outcome, reason: run.reason, release: run.release },
      }));
      if (interrupted.length > 0) deps.log.warn('cron: runs were interrupted by the agent stopping', { runs: interrupted.map((r) => r.id) });
      // Loud like any failed run: the notify hook of the service's current release hears of each.
      for (const run of interrupted) {
        const current = deps.store.current(run.service, run.destination);
        const manifest = current ? deps.store.getRelease(current.deploy_id)?.payload : undefined;
        if (manifest) void notifyFailure(launchDeps, manifest, run);
      }
      // Containers of those runs: nobody reads them any more (this agent's only; docker is scoped).
      // A Docker that fails here must not leave every job unscheduled.
      try {
        for (const c of await deps.docker.listContainers({ [LABEL.kind]: CRON_KIND }, true)) await deps.docker.remove(c.id, { force: true });
      } catch (e) {
        deps.log.warn('cron: could not remove the containers of interrupted runs', { err: e });
      }
      refresh();
      catchUp();
      deps.store.bus.on('final', onFinal);
    },
    refresh,
    async runNow(ref, onOutput, onStart) {
      const entry = entries.get(jobKey(ref));
      if (!entry) throw new NotFoundError(`job ${ref.job} is not in the current release of ${ref.service} on this agent`);
      const run = await launch(launchDeps, entry, { trigger: 'manual', attempt: 1, scheduledAt: null, onOutput, ...(onStart ? { onStart } : {}) });
      if (!run) throw new NotFoundError(`job ${ref.job} is not in the current release of ${ref.service} on this agent`);
      return run;
    },
    setPaused(ref, paused, keyId) {
      const job = ref.job ?? WHOLE_SERVICE;
      deps.store.cron.setPaused({ service: ref.service, destination: ref.destination, job }, paused, {
        keyId, action: paused ? 'cron.pause' : 'cron.resume', service: ref.service, destination: ref.destination,
        detail: { job: ref.job ?? null },
      });
      for (const entry of ofService(ref)) {
        if (ref.job !== undefined && entry.ref.job !== ref.job) continue;
        if (paused) {
          disarm(entry);
          entry.cancelRetry?.();
          entry.cancelRetry = undefined;
        } else {
          // Resuming is no missed run: the schedule picks up from now.
          deps.store.cron.setLastSlot(entry.ref, clock.now());
          arm(entry, clock.now());
        }
      }
    },
    entries: ofService,
    async serviceRemoved(ref) {
      const gone = live().filter((e) => e.ref.service === ref.service && e.ref.destination === ref.destination);
      for (const entry of gone) {
        disarm(entry);
        entry.cancelRetry?.();
        entries.delete(entry.key);
        retired.delete(entry);
        for (const r of entry.running.values()) r.handle.stop('stopped', 'the service was removed');
      }
      await Promise.all(gone.flatMap((e) => [...e.running.values()].map((r) => r.settled)));
      for (const c of await deps.docker.listContainers({ [LABEL.kind]: CRON_KIND, [LABEL.service]: ref.service }, true)) {
        if ((c.labels[LABEL.destination] ?? '') === ref.destination) await deps.docker.remove(c.id, { force: true });
      }
      deps.store.cron.removeService(ref.service, ref.destination);
    },
    async stop() {
      stopped = true;
      deps.store.bus.off('final', onFinal);
      const settling: Promise<void>[] = [];
      for (const entry of live()) {
        disarm(entry);
        entry.cancelRetry?.();
        for (const r of entry.running.values()) {
          r.handle.stop('interrupted', 'the agent stopped during the run');
          settling.push(r.settled);
        }
      }
      await Promise.race([Promise.all(settling), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    },
    runningCount,
  };
}
