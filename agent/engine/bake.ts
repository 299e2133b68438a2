// The bake window: after a release with `bake` goes live, watch it about once
// a second (each proxied role's health check, each role's container) until the
// window closes. When it fails and nothing has moved on, the store records a
// derived bake-revert deploy of the release that was live before, and the
// normal engine runs it: retained container started, checked, switched to,
// the failed release drained and stopped. Decisions live in core/bake.ts.
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import {
  BAKE_TICK_MS, bakeHttpChecks, bakeKey, bakeRemainingMs, bakeSeconds, judgeRound, openTally,
  type BakeHttpCheck, type BakeRound, type ContainerObservation, type ProbeObservation,
} from '../core/bake.js';
import { releaseContainers } from './observe.js';
import type { DeployRecord } from '../../shared/api-types.js';
import { probeHttp } from './health.js';
import type { EngineDeps } from './types.js';

export interface BakeWatcher {
  /** After engine.run: opens a window when the deploy went live with `bake` set. */
  afterRun(deployId: number): void;
  /** At agent start: reopens the windows of live deploys that have not closed yet. */
  resume(): void;
  /** Agent shutdown: ends every window; resolves once their loops (and a revert one started) are done. */
  stop(): Promise<void>;
}

interface Window {
  deploy: DeployRecord;
  manifest: ManifestPayload;
  seconds: number;
  remainingMs: number;
  resumed: boolean;
}

export function createBakeWatcher(deps: EngineDeps, run: (deployId: number) => Promise<void>): BakeWatcher {
  const { store, log } = deps;
  const abort = new AbortController();
  const loops = new Map<number, Promise<void>>();

  // A window opens when its deploy reaches DONE (updated_at), so a late or repeated call never lengthens it.
  const open = (deployId: number, resumed: boolean) => {
    if (loops.has(deployId) || abort.signal.aborted) return;
    const d = store.getDeploy(deployId);
    if (!d) return;
    let manifest: ManifestPayload;
    try {
      manifest = parseManifestPayload(store.getRelease(deployId)?.payload);
    } catch {
      return; // unreadable: the deploy itself already says so
    }
    const seconds = bakeSeconds(d, manifest);
    if (seconds === undefined || store.derived.bakeOver(deployId)) return;
    const remainingMs = bakeRemainingMs(Date.parse(d.updated_at), seconds, Date.now());
    if (remainingMs <= 0) return;
    const loop = watch(deps, run, { deploy: d, manifest, seconds, remainingMs, resumed }, abort.signal)
      .catch((err: unknown) => log.error('bake window failed unexpectedly', { deploy: deployId, error: err }))
      .finally(() => loops.delete(deployId));
    loops.set(deployId, loop);
  };

  // Opening a window must never make engine.run or reconcile throw.
  const safely = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.error(`could not ${what}`, { error: err });
    }
  };

  return {
    afterRun(deployId) {
      safely('open a bake window', () => open(deployId, false));
    },
    resume() {
      safely('resume bake windows', () => {
        for (const s of store.services()) if (s.current) open(s.current.deploy_id, true);
      });
    },
    async stop() {
      abort.abort();
      await Promise.allSettled([...loops.values()]);
    },
  };
}

async function watch(deps: EngineDeps, run: (id: number) => Promise<void>, w: Window, signal: AbortSignal): Promise<void> {
  const { store, log } = deps;
  const { deploy: d, manifest: m } = w;
  const note = (message: string) => store.addEvent(d.id, 'DONE', message);
  // The release to go back to is the one live before this deploy, fixed now.
  const previous = store.derived.previousLive(d.id);
  const checks = bakeHttpChecks(m);
  const what = [
    ...checks.map((c) => `GET ${c.path} on ${c.role}`),
    `${Object.keys(m.roles).sort().join(', ')} container${Object.keys(m.roles).length > 1 ? 's' : ''} running`,
  ].join(', ');
  const left = Math.ceil(w.remainingMs / 1000);
  note(
    `${w.resumed ? `bake window resumed after an agent restart (${left}s of ${w.seconds}s left)` : `bake window started: watching ${m.version} for ${w.seconds}s`}` +
      ` (${what}); ${previous ? `switches back to ${previous.version}` : 'nothing to switch back to'} if it fails`,
  );
  log.info('bake window open', { deploy: d.id, service: d.service, version: m.version, seconds: left });

  const deadline = Date.now() + w.remainingMs;
  let tally = openTally({});
  let first = true;
  let dockerTrouble = false;
  while (Date.now() < deadline) {
    if (!first) await pause(Math.min(BAKE_TICK_MS, deadline - Date.now()), signal);
    first = false;
    if (signal.aborted) {
      note('bake window interrupted: the agent is stopping; it resumes at the next start while the window lasts');
      return;
    }
    const over = store.derived.bakeOver(d.id);
    if (over) {
      note(`bake window ended early: ${over}`);
      return;
    }
    let round: BakeRound;
    try {
      round = await observeRound(deps, m, checks);
      dockerTrouble = false;
    } catch (err) {
      // The engine being unreachable says nothing about the release.
      if (!dockerTrouble) log.warn('bake window: could not observe the release; trying again', { deploy: d.id, error: err });
      dockerTrouble = true;
      continue;
    }
    // Restart counts start from what the first round saw.
    if (Object.keys(tally.restarts).length === 0) {
      tally = openTally(Object.fromEntries(round.containers.flatMap((c) => (c.state === 'running' ? [[bakeKey(c), c.restartCount]] : []))));
    }
    const verdict = judgeRound(tally, round);
    tally = verdict.tally;
    if (verdict.failed) {
      await fail(deps, run, d, previous, verdict.reason, note);
      return;
    }
  }
  if (signal.aborted) return;
  note(`bake window passed: ${m.version} stayed healthy for ${w.seconds}s`);
  log.info('bake window passed', { deploy: d.id, service: d.service, version: m.version });
}

async function fail(
  deps: EngineDeps,
  run: (id: number) => Promise<void>,
  d: DeployRecord,
  previous: DeployRecord | undefined,
  reason: string,
  note: (message: string) => void,
): Promise<void> {
  const { store, log } = deps;
  const outcome = store.derived.bakeFailed({ bakedDeployId: d.id, revertToDeployId: previous?.id ?? null, reason });
  switch (outcome.kind) {
    case 'over':
      note(`bake window ended early: ${outcome.why}`);
      return;
    case 'nothing-to-revert':
      note(`bake failed: ${reason}; ${outcome.why}, so ${d.version} stays live`);
      log.warn('bake failed with nothing to revert to', { deploy: d.id, service: d.service, reason });
      return;
    case 'reverting': {
      const r = outcome.deploy;
      note(`bake failed: ${reason}; reverting to ${r.version} (deploy ${r.id})`);
      log.warn('bake failed; reverting', { deploy: d.id, service: d.service, reason, revert_deploy: r.id, reverted_to: r.version });
      await run(r.id);
      const end = store.getDeploy(r.id);
      note(
        end?.state === 'DONE'
          ? `switched back to ${r.version} (deploy ${r.id})`
          : `switching back to ${r.version} (deploy ${r.id}) did not finish: ${end?.error ?? end?.state ?? 'unknown'}`,
      );
    }
  }
}

/** One look at every role's containers and, for proxied roles, one health probe of each that runs (in parallel). */
async function observeRound(deps: EngineDeps, m: ManifestPayload, checks: readonly BakeHttpCheck[]): Promise<BakeRound> {
  const containers: ContainerObservation[] = [];
  const targets: Array<{ role: string; replica?: number; ip: string }> = [];
  for (const role of Object.keys(m.roles).sort()) {
    const found = await releaseContainers(deps.docker, m, role);
    found.forEach(({ name, info }, i) => {
      const which = { role, ...(i > 0 ? { replica: i + 1 } : {}), name };
      if (!info) {
        containers.push({ ...which, state: 'gone' });
      } else if (!info.running) {
        containers.push({ ...which, state: 'stopped', exitCode: info.exitCode });
      } else {
        containers.push({ ...which, state: 'running', restartCount: info.restartCount ?? 0 });
        if (info.ip) targets.push({ role, ...(i > 0 ? { replica: i + 1 } : {}), ip: info.ip });
      }
    });
  }
  const probes: ProbeObservation[] = await Promise.all(
    checks.flatMap((c) =>
      targets
        .filter((x) => x.role === c.role)
        .map((t) =>
          probeHttp(t.ip, c.port, c.path, c.timeoutSeconds * 1000).then((r) => ({
            role: c.role,
            ...(t.replica !== undefined ? { replica: t.replica } : {}),
            path: c.path,
            port: c.port,
            ok: r.ok,
            detail: r.detail,
          })),
        ),
    ),
  );
  return { containers, probes };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    // Unref'd: a window never keeps a process alive on its own.
    const timer = setTimeout(done, Math.max(1, ms));
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}
