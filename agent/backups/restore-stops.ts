// What a restore stops while it writes, and starts again after: the
// backup's `writers` (app roles of the current release) and, for a volume or
// directory, the accessory that uses the data. Only what was running is
// stopped, and only that is started again, also after a failure; the
// returned description says what state things were left in.
import { manifestSubject, type ManifestPayload } from '../../shared/manifest.js';
import { findAccessory, startAccessory, stopAccessory, type AccessoryDeps } from '../accessories/service.js';
import { APP_KIND, LABEL } from '../core/containers.js';
import type { DockerPort } from '../docker.js';

export interface Stopped {
  /** Starts what was stopped; returns the problems (empty when all started). */
  restart(): Promise<string[]>;
}

type Say = (message: string) => Promise<void> | void;

/** The running containers of `roles` in the current release. */
async function writerContainers(docker: DockerPort, m: ManifestPayload, roles: readonly string[]) {
  const out = [];
  for (const role of roles) {
    const list = await docker.listContainers({ [LABEL.kind]: APP_KIND, [LABEL.service]: m.service, [LABEL.role]: role, [LABEL.release]: m.version }, false);
    out.push(...list.filter((c) => (c.labels[LABEL.destination] ?? '') === m.destination && c.running));
  }
  return out;
}

export async function stopForRestore(
  deps: { docker: DockerPort; accessories?: AccessoryDeps | undefined },
  m: ManifestPayload,
  what: { writers: readonly string[]; accessory?: string | undefined },
  say: Say,
): Promise<Stopped> {
  const stoppedWriters: Array<{ id: string; name: string }> = [];
  let stoppedAccessory: string | undefined;
  const restart = async (): Promise<string[]> => {
    const problems: string[] = [];
    if (stoppedAccessory !== undefined && deps.accessories) {
      try {
        await startAccessory(deps.accessories, m, stoppedAccessory);
        await say(`started accessory ${stoppedAccessory} again`);
      } catch (err) {
        problems.push(`accessory ${stoppedAccessory} is stopped and could not be started: ${err instanceof Error ? err.message : String(err)} (deploy accessory start ${stoppedAccessory})`);
      }
    }
    for (const c of stoppedWriters) {
      try {
        await deps.docker.start(c.id);
        await say(`started ${c.name} again`);
      } catch (err) {
        problems.push(`${c.name} is stopped and could not be started: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return problems;
  };
  try {
    for (const c of await writerContainers(deps.docker, m, what.writers)) {
      await say(`stopping writer ${c.name}`);
      await deps.docker.stop(c.id, m.stop_timeout);
      stoppedWriters.push({ id: c.id, name: c.name });
    }
    if (what.accessory !== undefined) {
      const found = await findAccessory(deps.docker, m, what.accessory);
      if (found?.running) {
        if (!deps.accessories) throw new Error('this agent was started without accessory support');
        await say(`stopping accessory ${what.accessory} (${found.name})`);
        await stopAccessory(deps.accessories, m, what.accessory);
        stoppedAccessory = what.accessory;
      } else {
        await say(`accessory ${what.accessory} of ${manifestSubject(m.service, m.destination)} is not running; left so`);
      }
    }
  } catch (err) {
    const problems = await restart();
    if (problems.length > 0) await say(problems.join('; '));
    throw err;
  }
  return { restart };
}
