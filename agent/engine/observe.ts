// Reading what Docker and the route table say about a service right now, in the
// shape the pure planner wants.
import type { ManifestPayload } from '../../shared/manifest.js';
import type { DockerPort, ContainerInfo } from '../docker.js';
import type { Store } from '../store/index.js';
import { APP_KIND, LABEL, containerName, isReleaseContainer, legacyContainerName, replicaNames } from '../core/containers.js';
import type { Observed } from '../core/plan.js';

/** Berth's app containers of a service+destination: any state, or with `all: false` the running ones. */
export async function serviceContainers(
  docker: Pick<DockerPort, 'listContainers'>,
  service: string,
  destination: string,
  { all = true }: { all?: boolean } = {},
): Promise<ContainerInfo[]> {
  // Filtering the destination here: Docker's label filter on an empty value is not reliable.
  const listed = await docker.listContainers({ [LABEL.service]: service, [LABEL.kind]: APP_KIND }, all);
  return listed.filter((c) => (c.labels[LABEL.destination] ?? '') === destination);
}

/**
 * The container of a release's role, by name: today's, or the one an agent from
 * before the agent tag in names made. The labels must agree; a name alone could
 * belong to another service's container (names can collide).
 */
export async function releaseContainer(docker: Pick<DockerPort, 'inspect'>, m: ManifestPayload, role: string, replica = 1): Promise<ContainerInfo | undefined> {
  // Names without the agent tag come from before replicas: only a first one can have one.
  const names = replica === 1 ? [containerName(m, role), legacyContainerName(m, role)] : [containerName(m, role, replica)];
  for (const name of names) {
    const info = await docker.inspect(name);
    if (info && isReleaseContainer(info.labels, { service: m.service, destination: m.destination, role, release: m.version })) return info;
  }
  return undefined;
}

/** Each replica of a release's role: its container, or its name when it has none. */
export async function releaseContainers(
  docker: Pick<DockerPort, 'inspect'>,
  m: ManifestPayload,
  role: string,
): Promise<Array<{ name: string; info: ContainerInfo | undefined }>> {
  return Promise.all(
    replicaNames(m, role).map(async (name, i) => {
      const info = await releaseContainer(docker, m, role, i + 1);
      return { name: info?.name ?? name, info };
    }),
  );
}

export async function observe(docker: DockerPort, store: Store, manifest: ManifestPayload): Promise<Observed> {
  // The image look is independent of the containers: it runs alongside their reads.
  const imagePresent = docker.imagePresent(manifest.image);
  imagePresent.catch(() => undefined);
  const containers = await serviceContainers(docker, manifest.service, manifest.destination);
  // Whoever holds a name this release needs, even a container Berth did not make.
  const missing = Object.keys(manifest.roles).flatMap((role) => replicaNames(manifest, role)).filter((name) => !containers.some((c) => c.name === name));
  const holders = await Promise.all(missing.map((name) => docker.inspect(name)));
  for (const holder of holders) if (holder) containers.push(holder);
  // Retention ranks stopped containers by when they last ran; only inspect knows that.
  await Promise.all(containers.map(async (c, i) => {
    if (c.running || c.finishedAt != null) return;
    const full = await docker.inspect(c.id);
    if (full) containers[i] = { ...c, finishedAt: full.finishedAt };
  }));
  return {
    imagePresent: await imagePresent,
    containers,
    routes: store.routes.all(),
    currentRelease: store.current(manifest.service, manifest.destination)?.version ?? null,
  };
}
