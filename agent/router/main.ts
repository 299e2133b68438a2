// `berth-agent router`: the router as a process. agent/router/bin.ts (the
// router's own bundle) and agent/main.ts dispatch here.
// No run-if-entry check: in the bundled binary every module shares the entry's
// import.meta.url, so such a check would start a router beside every command.

import cluster from 'node:cluster';
import { renderUsage, wantsHelp } from '../command-spec.js';
import { startRouterCluster } from './cluster-primary.js';
import { runRouterWorker } from './cluster-worker.js';
import { ROUTER_COMMAND, loadRouterConfig } from './config.js';
import { startRouter, stderrLog } from './router.js';

export { startRouter } from './router.js';
export type { RunningRouter, RouterOptions } from './router.js';

// Memory stays bounded when stdout cannot keep up (journald slow or stopped): batches are dropped and counted.
const MAX_UNWRITTEN_LOG_BYTES = 4 * 1024 * 1024;

function writeRequestLog(lines: string): boolean {
  if (process.stdout.writableLength > MAX_UNWRITTEN_LOG_BYTES) return false;
  process.stdout.write(lines);
  return true;
}

/** Runs the router until SIGTERM/SIGINT, then drains and resolves (the caller exits 0). */
export async function routerMain(argv: string[]): Promise<void> {
  if (wantsHelp(argv)) {
    process.stdout.write(renderUsage(ROUTER_COMMAND));
    return;
  }
  const config = loadRouterConfig(argv);
  // A worker of `--workers N` is this same binary, forked by the primary (agent/router/cluster-primary.ts).
  if (cluster.isWorker) return runRouterWorker(config);
  const router = (config.workers ?? 1) > 1
    ? await startRouterCluster(config)
    : await startRouter(config, config.requestLog === false ? {} : { requestLog: writeRequestLog });
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      stderrLog(`received ${signal}`);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      router.stop().then(resolve, resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
