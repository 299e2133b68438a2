// Health checks of a new container before it gets traffic: the agent builds
// the URL itself from the container address, and probes it (agent/http-probe.ts)
// until it passes or the deploy timeout is spent.
import { UnhealthyError, UserError } from '../../shared/errors.js';
import { probeHttp, type HealthProbe, type ProbeResult } from '../http-probe.js';
import { delay } from './drain.js';

export { HEALTH_BODY_CAP_BYTES, probeHttp, type ProbeResult } from '../http-probe.js';

// A booting app is probed soon after it starts: the pause starts at FIRST_POLL_MS
// and doubles up to FAST_POLL_MS, for FAST_PHASE_MS; then the manifest's interval.
// So an app that never answers costs a handful of extra probes, not a tight loop.
const FIRST_POLL_MS = 20;
const FAST_POLL_MS = 200;
const FAST_PHASE_MS = 2000;
/** A first probe always gets this long, even when deploy_timeout is nearly spent. */
const MIN_PROBE_MS = 100;

/** What runningAddress needs to know of a container: a fresh look each call. */
export interface RunState {
  running: boolean;
  ip: string | null;
}

/** Looks at a container that Docker keeps restarting before that counts as a crash loop. */
const ADDRESS_READS = 10;

/**
 * The address of a just-started container, read when it is seen running. One
 * read at launch may predate a crash: a container waiting for Docker's restart
 * policy has none, and a restarted one may have another. A container seen not
 * running is reported by `checkAlive` (exited, with its code and last log
 * lines); when that look finds it running again, Docker restarted it in
 * between, and the address is read again.
 */
export async function runningAddress(
  read: () => Promise<RunState | undefined>,
  checkAlive: () => Promise<void>,
  c: { name: string; network: string },
): Promise<string> {
  for (let look = 0; look < ADDRESS_READS; look++) {
    const now = await read();
    if (now?.running) {
      if (now.ip) return now.ip;
      throw new UserError(`container ${c.name} has no address on network ${c.network}`);
    }
    await checkAlive();
  }
  throw new UnhealthyError(`container ${c.name} kept exiting and being restarted by Docker before it became healthy`, 'check the app logs and its command');
}

export interface HttpHealthOptions {
  host: string;
  port: number;
  path: string;
  intervalSeconds: number;
  /** The manifest's healthcheck.timeout, per request. */
  requestTimeoutSeconds: number;
  /** The deploy_timeout: give up after this long. */
  timeoutSeconds: number;
  /** Throws (with the exit code and logs) when the container is no longer running. */
  checkAlive: () => Promise<void>;
  onAttempt?: (result: ProbeResult, attempt: number) => void;
  sleep?: (ms: number) => Promise<void>;
  probe?: HealthProbe;
}

/** Probes until 2xx; `checkAlive` is not called before the first probe (the caller has just seen the container running). */
export async function waitHttpHealthy(o: HttpHealthOptions): Promise<void> {
  const sleep = o.sleep ?? delay;
  const probe = o.probe ?? probeHttp;
  const started = Date.now();
  const deadline = started + o.timeoutSeconds * 1000;
  let last = 'no attempt';
  for (let attempt = 1; ; attempt++) {
    // The caller saw the container running just before the first probe; later
    // probes follow a look, so a container that died says so instead.
    if (attempt > 1) await o.checkAlive();
    // The manifest's timeout, but never past deploy_timeout: the failure message
    // then names the wait that really happened.
    const probeMs = Math.max(MIN_PROBE_MS, Math.round(Math.min(o.requestTimeoutSeconds * 1000, deadline - Date.now())));
    const result = await probe(o.host, o.port, o.path, probeMs);
    o.onAttempt?.(result, attempt);
    if (result.ok) return;
    // A probe cut short by the deadline timing out says less than the full-length one before it.
    const cutShort = result.timedOut && probeMs < o.requestTimeoutSeconds * 1000 && attempt > 1;
    if (!cutShort) last = result.detail;
    if (Date.now() >= deadline) break;
    const pause = Date.now() - started < FAST_PHASE_MS ? Math.min(FAST_POLL_MS, FIRST_POLL_MS * 2 ** (attempt - 1)) : o.intervalSeconds * 1000;
    await sleep(Math.max(1, Math.min(pause, deadline - Date.now())));
  }
  // One last look: a container that died during the final wait says so instead.
  await o.checkAlive();
  throw new UnhealthyError(
    `health check GET ${o.path} on port ${o.port} did not return 2xx within ${o.timeoutSeconds}s (last: ${last})`,
    'check the app logs and that it answers 2xx on the health check path',
  );
}

/** Non-proxied roles: the container must still run after readiness_delay. */
export async function waitStillRunning(
  delaySeconds: number,
  checkAlive: () => Promise<void>,
  sleep: (ms: number) => Promise<void> = delay,
): Promise<void> {
  const deadline = Date.now() + delaySeconds * 1000;
  await checkAlive();
  while (Date.now() < deadline) {
    await sleep(Math.min(500, deadline - Date.now()));
    await checkAlive();
  }
}
