// `berth-agent router`: the router as a process. agent/main.ts dispatches here;
// the file also runs on its own (`node dist/agent/router/main.js`) for tests.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadRouterConfig } from './config.js';
import { startRouter, stderrLog } from './router.js';

export { startRouter } from './router.js';
export type { RunningRouter, RouterOptions } from './router.js';

const USAGE = `Usage: berth-agent router [options]

  --state-dir DIR          state directory (BERTH_STATE_DIR, default /var/lib/berth)
  --http-listen IP:PORT    where to serve HTTP (BERTH_HTTP_LISTEN, default 0.0.0.0:80)
  --router-socket PATH     control socket (BERTH_ROUTER_SOCKET, default /run/berth/router.sock)
  --snapshot PATH          route snapshot (BERTH_ROUTER_SNAPSHOT, default <state-dir>/router/routes.json)
  --max-connections N      open client connections in total (BERTH_ROUTER_MAX_CONNECTIONS, default 4096;
                           lowered to keep file descriptors for the targets and the control socket)
  --max-connections-per-ip N   per client address, an IPv6 /64 counting as one
                           (BERTH_ROUTER_MAX_CONNECTIONS_PER_IP, default 256)
  --header-timeout SECONDS a request head must arrive within this (BERTH_ROUTER_HEADER_TIMEOUT, default 20)
`;

/** Runs the router until SIGTERM/SIGINT, then drains and resolves (the caller exits 0). */
export async function routerMain(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadRouterConfig(argv);
  const router = await startRouter(config);
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

function isEntryModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryModule()) {
  routerMain(process.argv.slice(2)).then(
    () => process.exit(0),
    (e: unknown) => {
      stderrLog(`error: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
