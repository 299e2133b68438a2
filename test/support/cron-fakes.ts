// Fakes for the agent's cron without Docker: a clock a test moves by hand, a
// runner whose runs end when the test says, a notifier that records what it
// was asked to send, and a real store whose current release carries jobs.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach } from 'node:test';
import { cronStatus } from '../../agent/cron/status.js';
import type { CronClock } from '../../agent/cron/jobs.js';
import type { CronRunResult, CronRunner, CronRunSpec, OutputChunkText } from '../../agent/cron/runner.js';
import type { NotifyEvent, NotifyTarget } from '../../agent/cron/notify.js';
import { createCronScheduler, type CronScheduler, type CronSchedulerDeps } from '../../agent/cron/scheduler.js';
import { openStore, type Store } from '../../agent/store/index.js';
import type { JWK } from '../../shared/api-types.js';
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { moveDeploy } from './deploy-states.js';
import { minimalManifest } from './manifest-fixture.js';

/** Timers fire only when the test advances the clock, in time order, each after the runs it started settled. */
export class FakeClock implements CronClock {
  private timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  constructor(public ms: number) {}

  now(): number {
    return this.ms;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.ms + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.ms + ms;
    // What the test just did (a run it finished) settles first, as it would before a real timer fires.
    await settle();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.ms = Math.max(this.ms, due.at);
      due.fn();
      await settle();
    }
    this.ms = target;
    await settle();
  }

  pending(): number {
    return this.timers.length;
  }
}

/** Lets promise chains (a run's ending, its notify) run to their end. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export interface FakeRun {
  spec: CronRunSpec;
  onOutput: ((chunk: OutputChunkText) => void) | undefined;
  stoppedWith: { outcome: string; reason: string } | undefined;
  /** Ends the run as the container would. */
  finish(result?: Partial<CronRunResult>): void;
}

/** A runner whose runs stay running until the test finishes or the scheduler stops them. */
export function fakeRunner(): { runner: CronRunner; runs: FakeRun[]; live(): FakeRun[] } {
  const runs: FakeRun[] = [];
  let open = new Set<FakeRun>();
  const runner: CronRunner = (spec, onOutput) => {
    let resolve!: (r: CronRunResult) => void;
    const done = new Promise<CronRunResult>((r) => (resolve = r));
    let ended = false;
    const end = (r: CronRunResult) => {
      if (ended) return;
      ended = true;
      open.delete(run);
      resolve(r);
    };
    const run: FakeRun = {
      spec,
      onOutput,
      stoppedWith: undefined,
      finish: (r = {}) => end({ outcome: 'succeeded', exitCode: 0, reason: '', output: '', outputTruncated: false, ...r }),
    };
    runs.push(run);
    open.add(run);
    return {
      stop(outcome, reason) {
        run.stoppedWith ??= { outcome, reason };
        end({ outcome, exitCode: null, reason, output: '', outputTruncated: false });
      },
      done,
    };
  };
  return { runner, runs, live: () => runs.filter((r) => open.has(r)) };
}

export const failed = (exitCode = 3, output = 'boom\n'): Partial<CronRunResult> => ({ outcome: 'failed', exitCode, reason: `exited with code ${exitCode}`, output });

export interface FakeNotifier {
  calls: Array<{ target: NotifyTarget; event: NotifyEvent }>;
  answer: string;
  notify: (target: NotifyTarget, event: NotifyEvent) => Promise<string>;
}

export function fakeNotifier(): FakeNotifier {
  const n: FakeNotifier = {
    calls: [],
    answer: 'sent',
    notify: async (target, event) => {
      n.calls.push({ target, event });
      return n.answer;
    },
  };
  return n;
}

export const NOTIFY_URL = 'https://hooks.test/cron';
const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
/** Opens the notify url and secret without real sealing. */
export const fakeUnseal = async (_jwe: string, _key: JWK, binding: { use: string }) => (binding.use === 'notify-url' ? NOTIFY_URL : 'shh');

export interface JobInput {
  schedule: string;
  timeout?: number;
  concurrency?: 'forbid' | 'allow' | 'replace';
  retries?: number;
  retry_backoff?: number;
  timezone?: string;
  command?: string[];
}

let seq = 0;

/** Accepts a release of `service` with `jobs` and makes it current, as a finished deploy would. */
export function releaseWithJobs(
  store: Store,
  jobs: Record<string, JobInput>,
  opts: { service?: string; version?: string; notify?: boolean; nowMs?: number } = {},
): ManifestPayload {
  const service = opts.service ?? 'demo';
  const iat = Math.floor((opts.nowMs ?? Date.now()) / 1000);
  seq += 1;
  const payload = parseManifestPayload(
    minimalManifest({
      sub: service, service, iat, exp: iat + 300, jti: randomBytes(16).toString('base64url'), seq: store.seq(service, '') + 1,
      version: opts.version ?? `v${seq}`,
      cron: Object.fromEntries(Object.entries(jobs).map(([name, j]) => [name, { command: ['bin/job'], role: 'web', timeout: 1, ...j }])),
      ...(opts.notify ? { notify: { url: SEALED } } : {}),
    }),
  );
  const d = store.acceptRelease({ payload, jws: 'test-jws', keyId: 'k'.repeat(43) });
  moveDeploy(store, d.id, 'DONE');
  store.setCurrent(service, '', d.id);
  return payload;
}

export interface CronHarness {
  clock: FakeClock;
  runner: ReturnType<typeof fakeRunner>;
  notifier: FakeNotifier;
  removed: string[];
  scheduler: CronScheduler;
}

export function cronHarness(store: Store, clock: FakeClock, over: Partial<CronSchedulerDeps> = {}): CronHarness {
  const runner = fakeRunner();
  const notifier = fakeNotifier();
  const removed: string[] = [];
  const scheduler = createCronScheduler({
    store,
    docker: { listContainers: async () => [], remove: async (id) => void removed.push(id) },
    runner: runner.runner,
    log: { info() {}, warn() {}, error() {} },
    agentId: 'g'.repeat(43),
    hostname: 'test-host',
    sealingPrivateJwk: {} as JWK,
    unseal: fakeUnseal,
    notify: notifier.notify,
    maxRunning: 8,
    clock,
    ...over,
  });
  return { clock, runner, notifier, removed, scheduler };
}

export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
/** 12:30:00.250 UTC: between hourly slots, a quarter second past a second slot. */
export const T0 = Date.parse('2026-06-01T12:30:00.250Z');
export const REF = { service: 'demo', destination: '' };

/**
 * Stores on temp files and schedulers for one test file, stopped and closed
 * after each test: `setup` gives a store whose current release has `jobs`, and
 * a scheduler over it on a fake clock at T0 (not started).
 */
export function schedulerBed() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cron-sched-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  let open: Array<{ store: Store; h: CronHarness }> = [];
  afterEach(async () => {
    for (const { store, h } of open) {
      await h.scheduler.stop();
      store.close();
    }
    open = [];
  });
  const bed = {
    /** A fresh store on the clock. */
    store: (clock: FakeClock) => openStore(join(dir, `db-${n++}.sqlite`), { now: () => clock.now() }),
    /** Stopped and closed after the test. */
    track: (store: Store, h: CronHarness) => void open.push({ store, h }),
    setup(jobs: Record<string, JobInput>, opts: { notify?: boolean; maxRunning?: number } = {}) {
      const clock = new FakeClock(T0);
      const store = bed.store(clock);
      releaseWithJobs(store, jobs, { notify: opts.notify ?? false, nowMs: clock.now() });
      const h = cronHarness(store, clock, opts.maxRunning !== undefined ? { maxRunning: opts.maxRunning } : {});
      bed.track(store, h);
      return { store, clock, h, runs: (job: string) => store.cron.runs({ ...REF, job }, 200).reverse() };
    },
  };
  return bed;
}

export const auditsOf = (store: Store, action: string) => store.audit.list({ service: 'demo', limit: 1000 }).filter((a) => a.action === action);
export const jobStatus = (store: Store, h: CronHarness, job: string) =>
  cronStatus(store, h.scheduler.entries(REF), REF, h.clock.now()).jobs.find((j) => j.name === job);
