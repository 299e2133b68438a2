// PURE: docker run options that would hand a container the host or take over
// what the agent manages, with the reason given to the user. One table for
// both places that check it: the CLI (early, with the deploy.yml line) and the
// agent (authoritative, whatever the manifest's signer asked for). The options
// that reach beyond the container but can be judged (volume, mount, publish,
// network-alias, security-opt) are parsed in shared/docker-mounts.ts instead.

export const REFUSED_DOCKER_OPTIONS: Readonly<Record<string, string>> = {
  privileged: 'gives the container full control of the host',
  device: 'gives the container host devices',
  'device-cgroup-rule': 'gives the container host devices',
  gpus: 'gives the container host devices',
  pid: 'can share the host process namespace',
  ipc: 'can share a host IPC namespace',
  uts: 'can share the host UTS namespace',
  userns: 'can disable user namespace remapping',
  cgroupns: 'can share the host cgroup namespace',
  'cgroup-parent': 'moves the container out of the agent-managed cgroup',
  network: 'the agent attaches app containers to its own network',
  net: 'the agent attaches app containers to its own network',
  v: 'write it as volume (the deploy CLI does)',
  'volumes-from': "mounts another container's volumes",
  'volume-driver': 'chooses a volume plugin',
  p: 'write it as publish (the deploy CLI does)',
  'publish-all': 'app containers are reached through the router; accessories use port:',
  name: 'the agent names containers',
  label: 'use the labels: key',
  env: 'use the env: key',
  e: 'use the env: key',
  'env-file': 'use the env: key',
  'log-driver': 'use the logging: key',
  'log-opt': 'use the logging: key',
  restart: 'the agent runs app containers with restart policy unless-stopped, as Kamal does',
  rm: 'the agent manages container lifetimes',
  detach: 'the agent manages container lifetimes',
  d: 'the agent manages container lifetimes',
  runtime: 'chooses a different container runtime',
  isolation: 'chooses a different container runtime',
};
