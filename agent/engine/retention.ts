// Removing stopped containers beyond retain_containers. Which ones is decided
// by the pure planner (core/plan.ts retirement); this only carries it out.
import type { DockerPort } from '../docker.js';

export interface PruneResult {
  removed: string[];
  failed: Array<{ name: string; error: string }>;
}

export async function pruneContainers(
  docker: DockerPort,
  victims: Array<{ id: string; name: string }>,
): Promise<PruneResult> {
  const result: PruneResult = { removed: [], failed: [] };
  for (const v of victims) {
    // Never force: a container that runs again (someone started it) is not ours to kill here.
    const info = await docker.inspect(v.id);
    if (!info) continue;
    if (info.running) {
      result.failed.push({ name: v.name, error: 'it is running' });
      continue;
    }
    try {
      await docker.remove(v.id);
      result.removed.push(v.name);
    } catch (err) {
      result.failed.push({ name: v.name, error: (err as Error).message });
    }
  }
  return result;
}
