// `berth-agent router`: the router as a process. agent/main.ts dispatches here;
// the file also runs on its own (`node dist/agent/router/main.js`) for tests.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { renderUsage, wantsHelp } from '../command-spec.js';
import { ROUTER_COMMAND, loadRouterConfig } from './config.js';
import { startRouter, stderrLog } from './router.js';

export { startRouter } from './router.js';
export type { RunningRouter, RouterOptions } from './router.js';

/** Runs the router until SIGTERM/SIGINT, then drains and resolves (the caller exits 0). */
export async function routerMain(argv: string[]): Promise<void> {
  if (wantsHelp(argv)) {
    process.stdout.write(renderUsage(ROUTER_COMMAND));
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
