// The router with --workers N > 1: this process (the node:cluster primary) owns
// the control socket, the route snapshot and version, serialized applies, the
// certificate files, ACME challenge answers, the connection caps and the metrics
// listener; N workers (agent/router/cluster-worker.ts) serve :80/:443, each
// accepting from the shared sockets (SCHED_NONE). Every change reaches every
// worker before the control call that made it is answered (docs/router.md "Workers").

import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UpstreamError } from '../../shared/errors.js';
import { ChallengeAnswers } from './acme-challenges.js';
import { CertificateStore } from './certificates.js';
import { ErrorPageStore } from './error-pages.js';
import { SharedConnectionBudget } from './cluster-connections.js';
import { parseCounts, parseMetricsCounts, parseWorkerMessage, type MetricsCounts, type PrimaryMessage, type WorkerMessage } from './cluster-protocol.js';
import { DEFAULT_ROUTER_CONNECTIONS, type RouterConfig } from './config.js';
import { createControlServer, listenOnSocket } from './control.js';
import { CODE_CLASSES, DURATION_BOUNDS, startRouterMetrics } from './metrics.js';
import { initialRouteSet, stderrLog } from './router.js';
import { saveSnapshot } from './snapshot.js';
import { assertNewer, buildTable, type RouteTable } from './table.js';
import type { RouteSet, TargetStats } from './types.js';

/** A worker must answer a push (route set, certificate, challenge) within this, or it is killed and replaced. */
const PUSH_TIMEOUT_MS = 10_000;
/** GET /targets and scrapes: a worker that does not answer within this fails the call (no wrong 0). */
const QUERY_TIMEOUT_MS = 5_000;
/** A worker gets this long to listen after its init. */
const INIT_TIMEOUT_MS = 30_000;
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A worker that lived this long restarts with the shortest delay again. */
const STABLE_MS = 30_000;

type Message = PrimaryMessage extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

class Gone extends Error {}

interface Member {
  worker: Worker;
  /** Serving: init answered. */
  ready: boolean;
  /** Exited: a message still in the pipe must not take a connection slot for it. */
  gone: boolean;
  startedAt: number;
  asks: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>;
  /** Resolves when the worker listens for messages. */
  listening: Promise<void>;
  hello: () => void;
  lastMetrics?: MetricsCounts;
}

export interface RunningCluster {
  stop(): Promise<void>;
}

export async function startRouterCluster(config: RouterConfig, log: (message: string) => void = stderrLog): Promise<RunningCluster> {
  const count = config.workers ?? 2;
  // Each worker accepts from the shared socket itself: round robin through the primary cost more than it gained (docs/router.md "Workers").
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let table: RouteTable = buildTable(await initialRouteSet(config.snapshotPath, log));
  const challenges = new ChallengeAnswers();
  const certificates = new CertificateStore(config.tlsDir ?? join(config.stateDir, 'router', 'tls'), log);
  await certificates.load();
  const errorPages = new ErrorPageStore(join(config.stateDir, 'router', 'error-pages'), log);
  await errorPages.load();
  const budget = new SharedConnectionBudget(config.connections ?? DEFAULT_ROUTER_CONNECTIONS, (m) => log(`warning: ${m}`));
  const members = new Map<number, Member>();
  let retired: MetricsCounts = { slots: {}, down: [], open: 0 };
  let nextAsk = 0;
  let stopping = false;
  let failures = 0;
  let applying: Promise<unknown> = Promise.resolve();
  const serialized = <T>(run: () => Promise<T>): Promise<T> => {
    const p = applying.then(run);
    applying = p.catch(() => undefined);
    return p;
  };

  const ask = (member: Member, message: Message, timeoutMs: number): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextAsk++;
      const timer = setTimeout(() => {
        member.asks.delete(id);
        reject(new UpstreamError(`router worker ${member.worker.id} did not answer ${message.t} within ${timeoutMs / 1000} s`, undefined, 'router_worker_unavailable'));
      }, timeoutMs);
      member.asks.set(id, { resolve, reject, timer });
      member.worker.send({ ...message, id } as PrimaryMessage);
    });

  /**
   * To every worker. One that exits meanwhile is fine (its replacement starts
   * from the new state); one that hangs or fails is killed and replaced, so no
   * worker serves the old state once the call answers.
   */
  const push = async (message: Message): Promise<void> => {
    await Promise.all([...members.values()].map(async (m) => {
      try {
        await ask(m, message, PUSH_TIMEOUT_MS);
      } catch (e) {
        if (e instanceof Gone) return;
        log(`error: ${(e as Error).message}; replacing worker ${m.worker.id}`);
        await killAndWait(m.worker);
      }
    }));
  };

  /** Answers of the serving workers; one that exits counts as no answer (what ran there is gone). */
  const query = async (message: Message): Promise<Array<{ member: Member; value: unknown }>> => {
    const answers = await Promise.all([...members.values()].filter((m) => m.ready).map(async (member) => {
      try {
        return { member, value: await ask(member, message, QUERY_TIMEOUT_MS) };
      } catch (e) {
        if (e instanceof Gone) return undefined;
        throw e;
      }
    }));
    return answers.filter((a): a is { member: Member; value: unknown } => a !== undefined);
  };

  const onMessage = (member: Member, raw: unknown): void => {
    let m: WorkerMessage;
    try {
      m = parseWorkerMessage(raw);
    } catch (e) {
      log(`error: dropping a message from worker ${member.worker.id}: ${(e as Error).message}`);
      return;
    }
    switch (m.t) {
      case 'reply': {
        const pending = member.asks.get(m.id);
        if (!pending) return;
        member.asks.delete(m.id);
        clearTimeout(pending.timer);
        if (m.ok) pending.resolve(m.value);
        else pending.reject(new Error(`worker ${member.worker.id}: ${m.message ?? 'failed'}`));
        return;
      }
      case 'hello':
        member.hello();
        return;
      case 'conns':
        if (member.gone) return;
        // Closes first: a slot given back in the same turn is free for an accept.
        for (const key of m.close) budget.close(member.worker.id, key);
        if (m.open.length > 0) {
          member.worker.send({ t: 'grants', grants: m.open.map(([conn, key]) => [conn, !stopping && budget.open(member.worker.id, key)]) } satisfies PrimaryMessage);
        }
    }
  };

  /** Starts a worker; resolves once it listens with the committed state, rejects when it could not. */
  const startWorker = (): Promise<void> => {
    const worker = cluster.fork();
    let hello = (): void => undefined;
    const listening = new Promise<void>((resolve) => (hello = resolve));
    const member: Member = { worker, ready: false, gone: false, startedAt: Date.now(), asks: new Map(), listening, hello: () => hello() };
    worker.on('message', (raw: unknown) => onMessage(member, raw));
    worker.on('error', (e) => log(`error: worker ${worker.id}: ${e.message}`));
    worker.on('exit', (code, signal) => {
      member.gone = true;
      member.hello();
      members.delete(worker.id);
      budget.workerGone(worker.id);
      if (member.lastMetrics) retired = addCounts(retired, member.lastMetrics);
      for (const a of member.asks.values()) {
        clearTimeout(a.timer);
        a.reject(new Gone());
      }
      member.asks.clear();
      if (stopping || !member.ready) return;
      failures = Date.now() - member.startedAt > STABLE_MS ? 0 : failures + 1;
      const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** Math.max(0, failures - 1));
      log(`error: worker ${worker.id} exited (${signal ?? `code ${code}`}); its in-flight requests are gone; starting another in ${delay} ms`);
      setTimeout(() => void restart(), delay);
    });
    // Serialized with applies: the init carries the committed set and no prepare/commit can pass it.
    return serialized(async () => {
      await Promise.race([listening, new Promise((r) => setTimeout(r, INIT_TIMEOUT_MS).unref())]);
      if (worker.isDead()) throw new Error(`worker ${worker.id} exited before listening`);
      members.set(worker.id, member);
      try {
        await ask(member, {
          t: 'init', set: table.routeSet, certificates: certificates.entries(), challenges: challenges.entries(), pages: errorPages.entries(),
          metrics: config.metricsListen !== undefined,
        }, INIT_TIMEOUT_MS);
        member.ready = true;
      } catch (e) {
        await killAndWait(worker);
        throw e instanceof Gone ? new Error(`worker ${worker.id} exited before listening`) : e;
      }
    });
  };
  const restart = async (): Promise<void> => {
    if (stopping) return;
    try {
      await startWorker();
    } catch (e) {
      failures += 1;
      const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** failures);
      log(`error: a new worker did not start: ${(e as Error).message}; trying again in ${delay} ms`);
      setTimeout(() => void restart(), delay);
    }
  };

  const apply = (set: RouteSet): Promise<number> => serialized(async () => {
    assertNewer(set, table.version);
    const next = buildTable(set);
    errorPages.assertComplete(set);
    try {
      await push({ t: 'prepare', set });
      await saveSnapshot(config.snapshotPath, set);
    } catch (e) {
      for (const m of members.values()) m.worker.send({ t: 'abort', version: set.version } satisfies PrimaryMessage);
      throw e;
    }
    metrics.routesApplied(table.routeSet, set);
    // From here the set is committed: a worker started from now on gets it at init.
    table = next;
    await push({ t: 'commit', version: set.version });
    await errorPages.prune(set);
    log(`routes applied version=${set.version} routes=${set.routes.length} workers=${members.size}`);
    return set.version;
  });

  const targets = async (): Promise<Record<string, TargetStats>> => {
    const out: Record<string, TargetStats> = {};
    for (const t of table.targets()) out[t] = { inflight: 0 };
    for (const { value } of await query({ t: 'targets' })) {
      for (const [t, n] of Object.entries(parseCounts(value))) out[t] = { inflight: (out[t]?.inflight ?? 0) + n };
    }
    return out;
  };

  const metrics = await startRouterMetrics(config.metricsListen, {
    routeSet: () => table.routeSet,
    openConnections: async () => 0,
    certificates: () => certificates.list().map((c) => ({ hosts: c.hosts, notAfter: new Date(c.not_after) })),
    workers: async () => {
      const answers = await query({ t: 'metrics' });
      const counts = answers.map(({ member, value }) => (member.lastMetrics = parseMetricsCounts(value, DURATION_BOUNDS.length + 1, CODE_CLASSES.length)));
      return [retired, ...counts];
    },
  }, log);

  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    const exits = [...members.values()].map((m) => new Promise<void>((resolve) => {
      if (m.worker.isDead()) return resolve();
      m.worker.once('exit', () => resolve());
      m.worker.send({ t: 'stop' } satisfies PrimaryMessage);
    }));
    // Each worker bounds its own drain by the shutdown timeout; this only catches one that hangs.
    const bound = setTimeout(() => members.forEach((m) => m.worker.process.kill('SIGKILL')), config.shutdownTimeoutMs + 5_000);
    await Promise.all(exits);
    clearTimeout(bound);
  };

  try {
    await Promise.all(Array.from({ length: count }, () => startWorker()));
  } catch (e) {
    await stopWorkers();
    await metrics.server?.close();
    throw e;
  }

  const tls = {
    challenges: {
      put: async (token: string, body: unknown): Promise<void> => {
        challenges.put(token, body);
        const entry = challenges.entries().find((c) => c.token === token);
        if (entry) await push({ t: 'challenge-put', entry });
      },
      delete: async (token: string): Promise<void> => {
        challenges.delete(token);
        await push({ t: 'challenge-delete', token });
      },
    },
    certificates: {
      list: () => certificates.list(),
      put: async (id: string, body: unknown) => {
        const summary = await certificates.put(id, body);
        const entry = certificates.entries().find((c) => c.id === summary.id);
        if (entry) await push({ t: 'cert-put', cert: entry.id, input: entry.input });
        return summary;
      },
      delete: async (id: string): Promise<void> => {
        await certificates.delete(id);
        await push({ t: 'cert-delete', cert: id });
      },
    },
  };
  const pages = {
    list: () => errorPages.list(),
    // Serialized with applies, so no table naming the page is prepared before every worker has it.
    put: (hash: string, body: unknown): Promise<void> => serialized(async () => {
      await errorPages.put(hash, body);
      const page = errorPages.entries().find((p) => p.hash === hash);
      if (page) await push({ t: 'page-put', page });
    }),
  };
  const controlServer = createControlServer({ routeSet: () => table.routeSet, apply, targets, log, tls, errorPages: pages });
  controlServer.on('error', (e) => log(`error: control server: ${e.message}`));
  // Last: the control socket answers only once every worker serves.
  await listenOnSocket(controlServer, config.socketPath);
  log(`started pid=${process.pid} workers=${members.size} socket=${config.socketPath} version=${table.version} ` +
    `max_connections=${budget.limits.maxConnections} max_connections_per_ip=${budget.limits.maxPerAddress}`);

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    log(`stopping; draining ${members.size} worker(s)`);
    const closed = closeServer(controlServer);
    controlServer.closeIdleConnections();
    await unlink(config.socketPath).catch(() => undefined);
    await stopWorkers();
    controlServer.closeAllConnections();
    await closed;
    await metrics.server?.close();
    await applying;
    log('stopped');
  };
  return { stop: () => (stopped ??= stop()) };
}

function killAndWait(worker: Worker): Promise<void> {
  if (worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => {
    worker.once('exit', () => resolve());
    worker.process.kill('SIGKILL');
  });
}

/** A dead worker's last scraped counters stay in the sums, so counters do not go backwards. */
function addCounts(a: MetricsCounts, b: MetricsCounts): MetricsCounts {
  const slots = { ...a.slots };
  for (const [service, s] of Object.entries(b.slots)) {
    const was = slots[service];
    slots[service] = was
      ? {
        requests: was.requests.map((n, i) => n + (s.requests[i] ?? 0)), buckets: was.buckets.map((n, i) => n + (s.buckets[i] ?? 0)),
        sum: was.sum + s.sum, count: was.count + s.count, inflight: 0,
      }
      : { ...s, inflight: 0 };
  }
  return { slots, down: [], open: 0 };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
