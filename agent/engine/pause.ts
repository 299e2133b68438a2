// The BERTH_TEST_PAUSE_AT hook: crash tests need the agent frozen in a known
// state so they can kill -9 it there and watch reconcile repair things.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeployState } from '../../shared/api-types.js';
import type { EngineConfig } from './types.js';

export async function pauseIfRequested(config: Pick<EngineConfig, 'stateDir' | 'testPauseAt'>, state: DeployState): Promise<void> {
  if (!config.testPauseAt || config.testPauseAt !== state) return;
  await writeFile(join(config.stateDir, `paused-at-${state}`), `${process.pid}\n`);
  await new Promise<never>(() => {
    // Never settles: the process is meant to be killed here.
  });
}
