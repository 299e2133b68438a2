// Running an operator's command for a service: in a new container of the
// current release (the role's full environment, secrets unsealed as for the
// app itself), or with `reuse` in the running container of that release.
import { ConflictError, NotFoundError, UserError } from '../../shared/errors.js';
import { manifestSubject, type ManifestPayload } from '../../shared/manifest.js';
import { APP_KIND, LABEL } from '../core/containers.js';
import { proxiedRoles } from '../core/routes.js';
import type { DockerPort, ProcessSession } from '../docker.js';
import { findAccessory, requireAccessory } from '../accessories/service.js';
import { serviceContainers } from '../engine/observe.js';
import { oneOffContainerSpec, type OneOffDeps } from './one-off-container.js';
import type { Store } from '../store/index.js';

export const EXEC_KIND = 'exec';

export interface ExecDeps extends OneOffDeps {
  store: Store;
  docker: DockerPort;
}

export interface ExecRequest {
  service: string;
  destination: string;
  cmd: string[];
  role?: string | undefined;
  /** Run in the accessory's running container (as `docker exec`) instead of a role's. */
  accessory?: string | undefined;
  reuse: boolean;
}

export interface ExecTarget {
  /** '' for an accessory. */
  role: string;
  accessory?: string;
  release: string;
  deployId: number;
  manifest: ManifestPayload;
  /** The running container, for reuse. */
  containerId?: string;
}

/** Which release and role the command runs in; throws the 4xx a caller should see before anything starts. */
export async function resolveExecTarget(deps: ExecDeps, req: ExecRequest): Promise<ExecTarget> {
  const label = manifestSubject(req.service, req.destination);
  const current = deps.store.current(req.service, req.destination);
  const manifest = current ? deps.store.getRelease(current.deploy_id)?.payload : undefined;
  if (!current || !manifest) throw new NotFoundError(`service ${label} has no current release on this agent`, 'deploy it first');
  if (req.accessory !== undefined) return accessoryTarget(deps, req, req.accessory, { release: current.version, deployId: current.deploy_id, manifest });
  const roles = Object.keys(manifest.roles).sort();
  let role = req.role;
  if (role === undefined) {
    role = proxiedRoles(manifest)[0] ?? (roles.length === 1 ? roles[0] : undefined);
    if (role === undefined) throw new UserError(`service ${label} has several roles (${roles.join(', ')}); choose one`, 'pass -r ROLE', 'role_required');
  } else if (!Object.hasOwn(manifest.roles, role)) {
    throw new UserError(`role ${role} is not in release ${current.version} of ${label} (roles: ${roles.join(', ')})`, undefined, 'unknown_role');
  }
  const target: ExecTarget = { role, release: current.version, deployId: current.deploy_id, manifest };
  if (!req.reuse) return target;
  const running = (await serviceContainers(deps.docker, req.service, req.destination, { all: false })).find(
    (c) => c.running && c.labels[LABEL.role] === role && c.labels[LABEL.release] === current.version,
  );
  if (!running) {
    throw new ConflictError(`no running ${role} container of release ${current.version} of ${label}`, 'run without --reuse to start a new container', 'not_running');
  }
  return { ...target, containerId: running.id };
}

/** An accessory has no release of its own: the command runs in its container, which must be running. */
async function accessoryTarget(deps: ExecDeps, req: ExecRequest, name: string, base: Omit<ExecTarget, 'role'>): Promise<ExecTarget> {
  if (req.role !== undefined) throw new UserError('choose a role or an accessory, not both');
  requireAccessory(base.manifest, name);
  const found = await findAccessory(deps.docker, req, name);
  if (!found?.running) {
    throw new ConflictError(`accessory ${name} of ${manifestSubject(req.service, req.destination)} is not running here`, `deploy accessory boot ${name} or deploy accessory start ${name}`, 'not_running');
  }
  return { ...base, role: '', accessory: name, containerId: found.id };
}

/** Starts the command; the caller reads the session and disposes of it. */
export async function startExec(deps: ExecDeps, target: ExecTarget, cmd: string[], io: { tty: boolean; stdin: boolean }): Promise<ProcessSession> {
  if (target.containerId) return deps.docker.exec(target.containerId, cmd, io);
  const { spec } = await oneOffContainerSpec(deps, { manifest: target.manifest, deployId: target.deployId, role: target.role, cmd, kind: EXEC_KIND, suffix: 'exec' });
  return deps.docker.runAttached(spec, io);
}

/** Exec containers left by an agent that died mid-command; nobody reads them any more. `docker` is scoped to this agent (agent-scope.ts): another agent's running commands are not touched. */
export async function removeExecOrphans(docker: DockerPort): Promise<number> {
  const orphans = await docker.listContainers({ [LABEL.kind]: EXEC_KIND }, true);
  for (const c of orphans) await docker.remove(c.id, { force: true });
  return orphans.length;
}
