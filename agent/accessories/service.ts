// The agent's accessory operations: boot (create and start a missing one),
// reboot (replace it from the current release; data kept), start, stop,
// remove (the container; `purge` also deletes what the agent keeps for it)
// and status. The DockerPort passed in is the agent-scoped one (agent/main.ts),
// so only this agent's accessory containers are ever seen or touched, and
// every create and start goes through the bind guard.
import { realpath } from 'node:fs/promises';
import type { AccessoryStatus, JWK } from '../../shared/api-types.js';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import { imageRegistry, manifestSubject, sameRegistry, type AccessorySpec, type ManifestPayload } from '../../shared/manifest.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import {
  ACCESSORY_KIND,
  ACCESSORY_LABEL,
  accessoryBase,
  accessoryChanges,
  accessoryContainerSpec,
  accessoryDirectories,
  accessoryHost,
  accessoryOf,
  accessoryRoot,
  accessorySummary,
  type AccessorySecrets,
} from '../core/accessories.js';
import { LABEL, type ContainerSpec } from '../core/containers.js';
import { specKey } from '../core/fingerprint.js';
import type { GuardrailPolicy } from '../core/guardrails.js';
import type { ContainerInfo, DockerPort } from '../docker.js';
import { resolveBinds } from '../engine/bind-paths.js';
import { registryAuth } from '../engine/registry-auth.js';
import type { Unseal } from '../engine/role-secrets.js';
import { createSerial } from '../serial.js';
import { openAccessorySecrets } from './secrets.js';
import { prepareAccessoryData, purgeAccessoryData } from './data.js';
import { routeAccessory, unrouteAccessory, type AccessoryRouting } from './routes.js';

export interface AccessoryDeps {
  docker: DockerPort;
  stateDir: string;
  network: string;
  networkSubnet: string;
  sealingPrivateJwk: JWK;
  policy: GuardrailPolicy;
  unseal?: Unseal;
  /** Told what an operation did worth reporting (a pull, a chown not permitted). */
  onEvent?: (message: string) => void;
  /** Routes accessories with a proxy (routes.ts); without it they are only run. */
  routing?: AccessoryRouting;
}

/**
 * Changes to accessories, one at a time in this process: a deploy's boot and
 * an operator's boot or reboot of the same one must not interleave (each
 * checks for the container, then creates it).
 */
const exclusive = createSerial();

export interface ActionResult {
  accessory: AccessoryStatus;
  changed: string[];
}

/** The accessory as the current release wants it. */
interface Desired {
  spec: AccessorySpec;
  secrets: AccessorySecrets;
  summary: string;
  /** The state dir's real path, and the accessory's directory below it. */
  stateDir: string;
  base: string;
}

export function requireAccessory(m: ManifestPayload, name: string): AccessorySpec {
  const spec = accessoryOf(m, name);
  if (!spec) {
    const names = Object.keys(m.accessories ?? {}).sort();
    throw new NotFoundError(
      `accessory ${name} is not in the current release of ${manifestSubject(m.service, m.destination)} on this agent`,
      names.length > 0 ? `its accessories here: ${names.join(', ')}` : 'the current release has no accessories',
    );
  }
  return spec;
}

/** Its container on this agent, running or not. */
export async function findAccessory(docker: DockerPort, m: Pick<ManifestPayload, 'service' | 'destination'>, name: string): Promise<ContainerInfo | undefined> {
  const list = await docker.listContainers({ [LABEL.kind]: ACCESSORY_KIND, [LABEL.service]: m.service, [ACCESSORY_LABEL]: name }, true);
  const found = list.find((c) => (c.labels[LABEL.destination] ?? '') === m.destination);
  // Inspect has what a listing lacks (the exact state after a restart, the binds).
  return found && ((await docker.inspect(found.id)) ?? found);
}

async function desired(deps: AccessoryDeps, m: ManifestPayload, name: string): Promise<Desired> {
  const spec = requireAccessory(m, name);
  const secrets = await openAccessorySecrets(m, name, spec, deps.sealingPrivateJwk, deps.unseal ?? defaultUnseal);
  // The real path: the bind guard compares what it resolves with what the spec says.
  const stateDir = await realpath(deps.stateDir);
  return { spec, secrets, summary: accessorySummary(spec, secrets, specKey(deps.sealingPrivateJwk)), stateDir, base: accessoryBase(accessoryRoot(stateDir), m, name) };
}

function statusOf(m: ManifestPayload, name: string, d: Desired, info: ContainerInfo | undefined): AccessoryStatus {
  return {
    name,
    image: d.spec.image,
    container: info?.name ?? null,
    state: info?.state ?? 'missing',
    port: d.spec.port ?? null,
    host: accessoryHost(m.service, name),
    changes: info ? accessoryChanges(info.labels[LABEL.spec], d.summary) : [],
    directories: accessoryDirectories(d.base, d.spec),
  };
}

export async function accessoryStatus(deps: AccessoryDeps, m: ManifestPayload, name: string): Promise<AccessoryStatus> {
  return statusOf(m, name, await desired(deps, m, name), await findAccessory(deps.docker, m, name));
}

export async function listAccessories(deps: AccessoryDeps, m: ManifestPayload): Promise<AccessoryStatus[]> {
  const out: AccessoryStatus[] = [];
  for (const name of Object.keys(m.accessories ?? {}).sort()) out.push(await accessoryStatus(deps, m, name));
  return out;
}

async function pullIfAbsent(deps: AccessoryDeps, m: ManifestPayload, image: string): Promise<void> {
  if (await deps.docker.imagePresent(image)) return;
  // The release's login goes only to the release's registry.
  const auth = m.registry && sameRegistry(m.registry.server, imageRegistry(image)) ? await registryAuth(m, deps.sealingPrivateJwk, deps.unseal ?? defaultUnseal) : undefined;
  deps.onEvent?.(`pulling ${image}${auth ? ` as ${auth.username} on ${auth.serveraddress}` : ''}`);
  await deps.docker.pull(image, auth ? { auth } : {});
}

/** The container spec, absolute host paths resolved and judged as for roles (the agent's own paths are already real). */
async function hostSpec(deps: AccessoryDeps, m: ManifestPayload, name: string, d: Desired): Promise<ContainerSpec> {
  const spec = accessoryContainerSpec(m, name, { network: deps.network, policy: deps.policy, base: d.base, summary: d.summary }, d.secrets.env);
  const binds = spec.host.Binds ?? [];
  const own = binds.filter((b) => b.startsWith(`${d.base}/`));
  const others = await resolveBinds(name, binds.filter((b) => !b.startsWith(`${d.base}/`)), deps.policy);
  if (binds.length > 0) spec.host.Binds = [...own, ...others];
  return spec;
}

/** `spec`: hostSpec(), made before anything changed (a reboot judges the new spec before it stops the old container). */
async function create(deps: AccessoryDeps, m: ManifestPayload, name: string, d: Desired, spec: ContainerSpec): Promise<string> {
  const { notes } = await prepareAccessoryData(d.stateDir, d.base, d.spec, d.secrets.files);
  for (const note of notes) deps.onEvent?.(`accessory ${name}: ${note}`);
  await deps.docker.ensureNetwork(deps.network, deps.networkSubnet);
  await pullIfAbsent(deps, m, d.spec.image);
  const id = await deps.docker.createContainer(spec);
  try {
    await deps.docker.start(id);
  } catch (err) {
    // A created container that never ran would pass for a booted one later.
    await deps.docker.remove(id, { force: true }).catch(() => undefined);
    throw err;
  }
  return id;
}

/** A routed accessory gets its route once healthy; a failure leaves the container running and says why. */
async function route(deps: AccessoryDeps, m: ManifestPayload, name: string, id: string): Promise<void> {
  if (deps.routing) await routeAccessory(deps.routing, deps.docker, m, name, id, deps.onEvent);
}

function exists(m: ManifestPayload, name: string, info: ContainerInfo): ConflictError {
  return new ConflictError(
    `accessory ${name} of ${manifestSubject(m.service, m.destination)} already has a container here (${info.name}, ${info.state})`,
    `deploy accessory reboot ${name} replaces it from the current release`,
    'accessory_exists',
  );
}

export function bootAccessory(deps: AccessoryDeps, m: ManifestPayload, name: string): Promise<ActionResult> {
  return exclusive(async () => {
    const d = await desired(deps, m, name);
    const found = await findAccessory(deps.docker, m, name);
    if (found) throw exists(m, name, found);
    await route(deps, m, name, await create(deps, m, name, d, await hostSpec(deps, m, name, d)));
    return { accessory: statusOf(m, name, d, await findAccessory(deps.docker, m, name)), changed: ['created'] };
  });
}

/**
 * Replaces the container from the current release; kept directories and files
 * stay. The new spec is judged first: one this agent refuses (a host port or
 * bind its flags no longer allow) leaves the running container alone. The old
 * container is stopped and removed before the new one is created, so host
 * ports it publishes are free for the new one.
 */
export function rebootAccessory(deps: AccessoryDeps, m: ManifestPayload, name: string): Promise<ActionResult> {
  return exclusive(async () => {
    const d = await desired(deps, m, name);
    const spec = await hostSpec(deps, m, name, d);
    const found = await findAccessory(deps.docker, m, name);
    const changed = found ? accessoryChanges(found.labels[LABEL.spec], d.summary) : ['created'];
    if (found) {
      if (deps.routing) await unrouteAccessory(deps.routing, m, name);
      if (found.running) await deps.docker.stop(found.id, m.stop_timeout);
      await deps.docker.remove(found.id, { force: true });
    }
    await route(deps, m, name, await create(deps, m, name, d, spec));
    return { accessory: statusOf(m, name, d, await findAccessory(deps.docker, m, name)), changed };
  });
}

function missing(m: ManifestPayload, name: string): NotFoundError {
  return new NotFoundError(`accessory ${name} of ${manifestSubject(m.service, m.destination)} has no container on this agent`, `deploy accessory boot ${name} creates it`);
}

export function startAccessory(deps: AccessoryDeps, m: ManifestPayload, name: string): Promise<ActionResult> {
  return exclusive(async () => {
    const d = await desired(deps, m, name);
    const found = await findAccessory(deps.docker, m, name);
    if (!found) throw missing(m, name);
    if (!found.running) await deps.docker.start(found.id);
    await route(deps, m, name, found.id);
    return { accessory: statusOf(m, name, d, await findAccessory(deps.docker, m, name)), changed: found.running ? [] : ['started'] };
  });
}

export function stopAccessory(deps: AccessoryDeps, m: ManifestPayload, name: string): Promise<ActionResult> {
  return exclusive(async () => {
    const d = await desired(deps, m, name);
    const found = await findAccessory(deps.docker, m, name);
    if (!found) throw missing(m, name);
    // Out of the router before the container stops: requests get the router's 503, not a dead target.
    if (deps.routing) await unrouteAccessory(deps.routing, m, name);
    if (found.running) await deps.docker.stop(found.id, m.stop_timeout);
    return { accessory: statusOf(m, name, d, await findAccessory(deps.docker, m, name)), changed: found.running ? ['stopped'] : [] };
  });
}

/** The container goes; with `purge`, what the agent keeps for it too (never an absolute host directory). */
export function removeAccessory(
  deps: Pick<AccessoryDeps, 'docker' | 'stateDir' | 'routing'>,
  m: ManifestPayload,
  name: string,
  purge: boolean,
): Promise<{ container: string | null; purged: string[] }> {
  return exclusive(async () => {
    // One the current release no longer names (taken out of deploy.yml) can still be removed.
    const spec = accessoryOf(m, name);
    const found = await findAccessory(deps.docker, m, name);
    if (!spec && !found) requireAccessory(m, name);
    if (deps.routing) await unrouteAccessory(deps.routing, m, name);
    if (found) {
      if (found.running) await deps.docker.stop(found.id, m.stop_timeout);
      await deps.docker.remove(found.id, { force: true });
    }
    const purged = purge ? await purgeAccessoryData(accessoryBase(accessoryRoot(await realpath(deps.stateDir)), m, name), spec) : [];
    return { container: found?.name ?? null, purged };
  });
}

/**
 * `deploy remove`: every accessory container of the service on this agent
 * (they outlive the release that named them); their kept data stays, as
 * `deploy accessory remove` without --purge leaves it. Returns their names.
 */
export function removeServiceAccessories(docker: DockerPort, service: string, destination: string, stopTimeoutS: number): Promise<string[]> {
  return exclusive(async () => {
    const all = await docker.listContainers({ [LABEL.kind]: ACCESSORY_KIND, [LABEL.service]: service }, true);
    const mine = all.filter((c) => (c.labels[LABEL.destination] ?? '') === destination);
    for (const c of mine) {
      if (c.running) await docker.stop(c.id, stopTimeoutS);
      await docker.remove(c.id, { force: true });
    }
    return mine.map((c) => c.name);
  });
}
