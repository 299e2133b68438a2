// The BERTH_TEST_PAUSE_AT hook: tests need the agent frozen in a known state,
// either to kill -9 it there (crash recovery) or to change the world under it
// (a registry tag moving after the CLI resolved it) and then let it go on.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeployState } from '../../shared/api-types.js';
import type { EngineConfig } from './types.js';

/** Writes `<stateDir>/paused-at-<STATE>` and waits until a test deletes it (or kills the process). */
export async function pauseIfRequested(config: Pick<EngineConfig, 'stateDir' | 'testPauseAt'>, state: DeployState): Promise<void> {
  if (!config.testPauseAt || config.testPauseAt !== state) return;
  const marker = join(config.stateDir, `paused-at-${state}`);
  await writeFile(marker, `${process.pid}\n`);
  while (existsSync(marker)) await sleep(100);
}
