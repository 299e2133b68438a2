// A router worker (--workers N > 1): the data plane of router.ts, fed by the
// cluster primary over IPC (agent/router/cluster-primary.ts). It listens only
// after the primary sent the committed route set, certificates and challenge
// answers; route sets go live in two phases (prepare builds the table, commit
// swaps it in one assignment); in-flight counts and metrics are reported when
// asked. Request log lines go to the shared stdout in writes of at most
// PIPE_BUF bytes cut at line ends, so two workers' lines never mix.

import cluster from 'node:cluster';
import { join } from 'node:path';
import { ChallengeAnswers } from './acme-challenges.js';
import { CertificateStore } from './certificates.js';
import { ErrorPageStore } from './error-pages.js';
import { RemoteConnectionGuard } from './cluster-connections.js';
import { parsePrimaryMessage, type PrimaryMessage, type WorkerMessage } from './cluster-protocol.js';
import { DEFAULT_ROUTER_CONNECTIONS, type RouterConfig } from './config.js';
import { startRouter, type RunningRouter } from './router.js';
import { buildTable, type RouteTable } from './table.js';

/** POSIX: a pipe write of at most this many bytes is never interleaved with another writer's. */
export const PIPE_BUF = 4096;
const MAX_UNWRITTEN_LOG_BYTES = 4 * 1024 * 1024;
/**
 * Without its primary a worker is orphaned: under systemd the unit restarts
 * only once every process of it is gone, so a full drain would keep the
 * router down for the whole shutdown timeout. Requests get this long instead.
 */
const ORPHAN_DRAIN_MS = 2_000;

/** Cuts `lines` (whole lines) into chunks of at most `max` bytes at line ends; a longer line is a chunk of its own. */
export function lineChunks(lines: string, max = PIPE_BUF): string[] {
  if (lines.length <= max / 3 || Buffer.byteLength(lines) <= max) return [lines];
  const chunks: string[] = [];
  let start = 0;
  let size = 0;
  let at = 0;
  while (at < lines.length) {
    const end = lines.indexOf('\n', at);
    const next = end < 0 ? lines.length : end + 1;
    const bytes = Buffer.byteLength(lines.slice(at, next));
    if (size > 0 && size + bytes > max) {
      chunks.push(lines.slice(start, at));
      start = at;
      size = 0;
    }
    size += bytes;
    at = next;
  }
  if (at > start) chunks.push(lines.slice(start, at));
  return chunks;
}

function writeRequestLog(lines: string): boolean {
  if (process.stdout.writableLength > MAX_UNWRITTEN_LOG_BYTES) return false;
  for (const chunk of lineChunks(lines)) process.stdout.write(chunk);
  return true;
}

function workerLog(message: string): void {
  process.stderr.write(`${new Date().toISOString()} berth-router worker=${cluster.worker?.id ?? '?'} ${message}\n`);
}

/** Runs until the primary says stop (or goes away, or a signal comes), drains like a single router, then exits. */
export async function runRouterWorker(config: RouterConfig): Promise<void> {
  const send = (m: WorkerMessage): void => {
    if (process.connected) process.send?.(m);
  };
  const guard = new RemoteConnectionGuard(send);
  const certificates = new CertificateStore(config.tlsDir ?? join(config.stateDir, 'router', 'tls'), workerLog);
  const challenges = new ChallengeAnswers();
  const errorPages = new ErrorPageStore(undefined, workerLog);
  let router: RunningRouter | undefined;
  let prepared: RouteTable | undefined;
  let stopping = false;

  const stop = (why: string, boundMs?: number): void => {
    if (stopping) return;
    stopping = true;
    workerLog(`stopping: ${why}`);
    if (boundMs !== undefined) setTimeout(() => process.exit(0), boundMs).unref();
    void (router?.stop() ?? Promise.resolve()).finally(() => process.stdout.write('', () => process.exit(0)));
  };

  const handle = async (m: PrimaryMessage): Promise<unknown> => {
    switch (m.t) {
      case 'init':
        for (const c of m.certificates) certificates.adopt(c.id, c.input);
        for (const c of m.challenges) challenges.adopt(c);
        for (const p of m.pages) errorPages.adopt(p.hash, p.html);
        router = await startRouter(config, {
          log: workerLog,
          ...(config.requestLog === false ? {} : { requestLog: writeRequestLog }),
          worker: {
            routeSet: m.set, certificates, challenges, errorPages, metrics: m.metrics,
            guard: (servers) => guard.install(servers, config.connections ?? DEFAULT_ROUTER_CONNECTIONS),
          },
        });
        return undefined;
      case 'prepare':
        prepared = buildTable(m.set);
        return undefined;
      case 'commit': {
        if (!router?.worker || prepared?.version !== m.version) throw new Error(`commit of version ${m.version} that was not prepared`);
        router.worker.swap(prepared);
        await errorPages.prune(prepared.routeSet);
        prepared = undefined;
        return undefined;
      }
      case 'abort':
        if (prepared?.version === m.version) prepared = undefined;
        return undefined;
      case 'challenge-put':
        challenges.adopt(m.entry);
        return undefined;
      case 'challenge-delete':
        challenges.delete(m.token);
        return undefined;
      case 'cert-put':
        certificates.adopt(m.cert, m.input);
        return undefined;
      case 'page-put':
        errorPages.adopt(m.page.hash, m.page.html);
        return undefined;
      case 'cert-delete':
        certificates.forget(m.cert);
        return undefined;
      case 'targets':
        return router?.worker?.inflight() ?? {};
      case 'metrics': {
        const counts = router?.worker?.metrics();
        if (!counts) throw new Error('metrics are off');
        return await counts;
      }
      case 'grants':
        for (const [conn, ok] of m.grants) guard.granted(conn, ok);
        return undefined;
      case 'stop':
        stop('asked by the primary');
        return undefined;
    }
  };

  process.on('message', (raw: unknown) => {
    let m: PrimaryMessage;
    try {
      m = parsePrimaryMessage(raw);
    } catch (e) {
      workerLog(`error: dropping a message from the primary: ${(e as Error).message}`);
      const id = (raw as { id?: unknown } | null)?.id;
      if (Number.isSafeInteger(id)) send({ t: 'reply', id: id as number, ok: false, message: (e as Error).message });
      return;
    }
    const id = 'id' in m ? m.id : undefined;
    handle(m).then(
      (value) => {
        if (id !== undefined) send({ t: 'reply', id, ok: true, ...(value === undefined ? {} : { value }) });
      },
      (e: unknown) => {
        if (id !== undefined) send({ t: 'reply', id, ok: false, message: (e as Error).message });
        // A worker that cannot listen is of no use; the primary decides whether to start another.
        if (m.t === 'init') process.exitCode = 1;
      },
    );
  });
  send({ t: 'hello' });
  // The primary gone (crashed, killed): stop accepting, give what runs a moment, leave; systemd restarts the unit.
  process.on('disconnect', () => stop('the primary went away', ORPHAN_DRAIN_MS));
  // SIGTERM/SIGINT reach a worker directly from a terminal's Ctrl-C or a kill of the process group: drain as the primary would ask.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await new Promise<never>(() => undefined);
}
