// Several agents can share one Docker engine (tests, demos, a staging machine
// with an agent per team). Each must see, reuse and remove only what it made:
// this wraps the agent's DockerPort at the composition root so every caller
// (engine, API listings, exec, start-up clean-up) is scoped at once. What it
// creates carries berth.agent=<agent id>; listings and lookups return only
// containers with that label (or, from an agent older than the label, those
// its own database accounts for). The `berth` network is shared per engine by
// design. Named volumes are labeled with the agent that created them and
// mounted only by that agent (or, unlabeled, made by hand or by an older
// agent, by any); Berth never removes either.
import { ConflictError } from '../shared/errors.js';
import { LABEL, isAgentsContainer } from './core/containers.js';
import { namedVolumes } from './core/volumes.js';
import type { ContainerSpec, DockerPort } from './docker.js';
import type { Store } from './store/index.js';

export interface AgentScope {
  agentId: string;
  /** Whether a Berth container without berth.agent (made before the label existed) is this agent's. */
  adoptsLegacy: (labels: Record<string, string>) => boolean;
}

export function scopeToAgent(docker: DockerPort, scope: AgentScope): DockerPort {
  const owns = (labels: Record<string, string>) => isAgentsContainer(labels, scope.agentId, scope.adoptsLegacy);
  const mine = { [LABEL.agent]: scope.agentId };
  const prepare = async (spec: ContainerSpec): Promise<ContainerSpec> => {
    // Docker would create a missing named volume on first use, without labels.
    for (const name of namedVolumes(spec.host.Binds ?? [])) {
      const driverOptions = spec.volumeOptions?.[name];
      const owner = (await docker.ensureVolume(name, { ...mine, [LABEL.kind]: 'volume' }, driverOptions))[LABEL.agent];
      // Another agent's data (its database, its uploads) is not this agent's to mount.
      if (owner !== undefined && owner !== scope.agentId) {
        throw new ConflictError(
          `volume ${name} belongs to another Berth agent on this Docker engine (${owner.slice(0, 12)}…)`,
          'name the volume differently in deploy.yml; volumes made by hand or before Berth labelled them are usable',
          'volume_not_ours',
        );
      }
    }
    return { ...spec, labels: { ...spec.labels, ...mine } };
  };
  return {
    // Methods not named below pass through: they act on ids the scoped reads returned.
    ...docker,
    ensureNetwork: (name, subnet, labels = {}) => docker.ensureNetwork(name, subnet, { ...labels, ...mine }),
    createContainer: async (spec) => docker.createContainer(await prepare(spec)),
    runAttached: async (spec, io) => docker.runAttached(await prepare(spec), io),
    inspect: async (idOrName) => {
      const info = await docker.inspect(idOrName);
      return info && owns(info.labels) ? info : undefined;
    },
    listContainers: async (labels, all) => (await docker.listContainers(labels, all)).filter((c) => owns(c.labels)),
  };
}

/**
 * Containers from an agent older than berth.agent are adopted when they name a
 * deploy this agent's database recorded: the same deploy number, service,
 * destination and release. (Docker cannot add a label to an existing
 * container; these keep being recognized this way until they are replaced.)
 */
export function adoptsByDeployRecord(store: Pick<Store, 'getDeploy'>): AgentScope['adoptsLegacy'] {
  return (labels) => {
    const id = labels[LABEL.deploy] ?? '';
    if (!/^[1-9][0-9]{0,15}$/.test(id)) return false;
    const d = store.getDeploy(Number(id));
    return (
      d !== undefined &&
      d.service === labels[LABEL.service] &&
      d.destination === (labels[LABEL.destination] ?? '') &&
      d.version === labels[LABEL.release]
    );
  };
}
