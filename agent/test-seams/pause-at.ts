// TEST SEAM, wired only when BERTH_TEST_PAUSE_AT is set (agent/main.ts): the
// engine's afterState hook freezes the agent right after it entered a state,
// so a test can kill -9 it there (crash recovery) or change the world under
// it (a registry tag moving after the CLI resolved it) and then let it go on.
// Production agents run without the hook.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeployState } from '../../shared/api-types.js';

/** After `state` is entered: writes `<stateDir>/paused-at-<STATE>` and waits until a test deletes it (or kills the process). */
export function pauseAt(stateDir: string, state: DeployState): (entered: DeployState) => Promise<void> {
  return async (entered) => {
    if (entered !== state) return;
    const marker = join(stateDir, `paused-at-${state}`);
    await writeFile(marker, `${process.pid}\n`);
    while (existsSync(marker)) await sleep(100);
  };
}
