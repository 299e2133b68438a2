// Every container Berth creates or starts passes through here, so no path —
// first start, rollback, bake revert, reconcile, exec — mounts a host path
// the guardrails did not judge at that moment. Docker resolves a bind source
// again at every start, including the starts it makes on its own (restart
// policy, daemon restart). Those cannot be intercepted, so the guard keeps an
// invariant instead: no bind source of a container it creates lies strictly
// inside a directory any container on the engine can write, nor holds one
// (core/bind-nesting.ts). Then no container can change a directory on the way
// to any bind source, and what Docker follows later is what was judged.
// Judging and creating happen under one lock, so two deploys of different
// services cannot each pass the check against the other's not-yet-created
// container.
import { realpath as fsRealpath } from 'node:fs/promises';
import { UserError } from '../../shared/errors.js';
import { describeNestingConflict, findNestingConflict, NESTING_HINT, type HostBind } from '../core/bind-nesting.js';
import { bindRefusal, type GuardrailPolicy } from '../core/guardrails.js';
import { isWritable, parseVolume } from '../core/volumes.js';
import type { BindMount, ContainerSpec, DockerPort, EngineBindMount } from '../docker.js';
import { createSerial } from '../serial.js';
import { hostPolicy, resolveHostPath, type Realpath } from './bind-paths.js';

/** The host binds of a spec (named volumes are Docker's own directories). */
function specBinds(spec: ContainerSpec): BindMount[] {
  return (spec.host.Binds ?? [])
    .map((b) => parseVolume(spec.name, b))
    .filter((v) => v.kind === 'bind')
    .map((v) => ({ source: v.source, writable: isWritable(v) }));
}

function refused(who: string, why: string, hint: string): UserError {
  return new UserError(`${who}: refused by this agent's guardrails: ${why}`, hint, 'guardrail_refused');
}

/** What a judgement compares against, read once per round: the policy's roots resolved on this host, every bind on the engine. */
interface EngineView {
  allowed: GuardrailPolicy;
  mounts: EngineBindMount[];
}

async function engineView(docker: DockerPort, policy: GuardrailPolicy, realpath: Realpath): Promise<EngineView> {
  const [allowed, mounts] = await Promise.all([hostPolicy(policy, realpath), docker.engineBindMounts()]);
  return { allowed, mounts };
}

/** Throws unless `binds` may be mounted now by container `who` (`selfId`: its own id, not judged against itself). */
async function judge(view: EngineView, realpath: Realpath, who: string, binds: BindMount[], selfId?: string): Promise<void> {
  for (const b of binds) {
    const now = await resolveHostPath(b.source, realpath);
    // The source was resolved when the container was made; a different answer means
    // something replaced a directory on the way with a symlink since.
    if (now !== b.source) {
      throw refused(who, `host path ${b.source} now resolves to ${now}: a directory on the way was replaced by a symlink`, 'remove the symlink on the host, then deploy again');
    }
    // Paths under the accessory root reach a spec only when the agent built them:
    // a manifest's were refused by the strict check when the spec was made (core/guardrails.ts).
    const refusal = bindRefusal(b.source, view.allowed, { agentData: true });
    if (refusal) throw refused(who, `host path ${b.source}: ${refusal.reason}`, refusal.hint);
  }
  const existing: HostBind[] = view.mounts
    .filter((m) => m.id !== selfId)
    .map((m) => ({ source: m.source, writable: m.writable, holder: `container ${m.name}` }));
  const conflict = findNestingConflict(binds.map((b) => ({ ...b, holder: `container ${who}` })), existing);
  if (conflict) throw refused(who, describeNestingConflict(conflict), NESTING_HINT);
}

export function guardBinds(docker: DockerPort, policy: GuardrailPolicy, realpath: Realpath = fsRealpath): DockerPort {
  const exclusive = createSerial();
  // Containers without host binds (most) cost no extra Docker call.
  const judgeNow = async (who: string, binds: BindMount[], selfId?: string) => {
    if (binds.length > 0) await judge(await engineView(docker, policy, realpath), realpath, who, binds, selfId);
  };
  return {
    ...docker,
    createContainer: (spec) =>
      exclusive(async () => {
        const binds = specBinds(spec);
        await judgeNow(spec.name, binds);
        const id = await docker.createContainer(spec);
        // The lock is this process's: another agent on the engine may have made a
        // nesting bind at the same moment. Judged again with both in place; when
        // two race, both give up, which is safe.
        try {
          await judgeNow(spec.name, binds, id);
        } catch (err) {
          await docker.remove(id, { force: true });
          throw err;
        }
        return id;
      }),
    runAttached: (spec, io) =>
      exclusive(async () => {
        await judgeNow(spec.name, specBinds(spec));
        return docker.runAttached(spec, io);
      }),
    start: (id) =>
      exclusive(async () => {
        const info = await docker.inspect(id);
        if (info) await judgeNow(info.name, info.binds ?? [], info.id);
        return docker.start(id);
      }),
  };
}

/**
 * Containers made before the guard existed (or whose paths changed under
 * them) may fail today's judgement; Docker would still restart them on its
 * own. Each of `ids` that fails gets restart policy `no`: it keeps running if
 * it runs, and only a start by Berth, judged again, brings it back. One look
 * at the engine serves every container.
 */
export async function disarmUnsafeRestarts(
  docker: DockerPort,
  policy: GuardrailPolicy,
  ids: readonly string[],
  realpath: Realpath = fsRealpath,
): Promise<{ name: string; reason: string }[]> {
  const view = await engineView(docker, policy, realpath);
  const disarmed: { name: string; reason: string }[] = [];
  for (const id of ids) {
    const own = view.mounts.filter((m) => m.id === id);
    if (own.length === 0) continue;
    const name = own[0]!.name;
    try {
      await judge(view, realpath, name, own, id);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      await docker.disableRestart(id);
      disarmed.push({ name, reason: err.message });
    }
  }
  return disarmed;
}
