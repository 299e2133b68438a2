// What Kamal would run for a config, as data: per role the hosts, command, env
// (clear values; secrets by name only), proxy, labels, options, logging and
// volumes; and the accessories with the hosts they land on. Pure: used by
// `deploy config`, the manifest builder and tests.

import { formatServerAddress } from '../address.js';
import { mergeEnv } from './schema-env.js';
import type { AccessoryConfig, AccessoryDirectoryConfig, AccessoryFileConfig, DeployConfig, DockerOptions, EnvConfig, LoggingConfig, ProxyConfig, RoleConfig } from './types.js';

export interface PlannedEnv {
  clear: Record<string, string>;
  /** Variable name → the secret whose value it gets. */
  secretNames: Record<string, string>;
}

export interface PlannedHost {
  host: string;
  tags: string[];
  /** The role env with this host's tag env merged in. */
  env: PlannedEnv;
}

export interface PlannedRole {
  role: string;
  primary: boolean;
  /** Kamal's container name prefix: service-role[-destination]. */
  container: string;
  hosts: PlannedHost[];
  cmd: string[] | null;
  env: PlannedEnv;
  proxy: ProxyConfig | null;
  labels: Record<string, string>;
  options: DockerOptions;
  logging: LoggingConfig;
  volumes: string[];
  /** Containers per server, when more than one (`replicas:`). */
  replicas?: number;
  /** Kamal's asset_path (the role's, else the top-level one), proxied roles only. */
  asset_path?: string;
}

export interface PlannedAccessory {
  name: string;
  service: string;
  image: string;
  hosts: string[];
  cmd: string[] | null;
  port: string | null;
  env: PlannedEnv;
  labels: Record<string, string>;
  options: DockerOptions;
  files: AccessoryFileConfig[];
  directories: AccessoryDirectoryConfig[];
  volumes: string[];
  proxy?: ProxyConfig;
}

export interface Plan {
  service: string;
  destination: string;
  image: string;
  roles: PlannedRole[];
  accessories: PlannedAccessory[];
  /** Every secret the deploy needs, registry credentials included, sorted. */
  secretNames: string[];
}

// Kamal's default when deploy.yml has no logging: cap Docker's json-file logs.
const DEFAULT_LOGGING: LoggingConfig = { options: { 'max-size': '10m' } };

function planned(env: EnvConfig): PlannedEnv {
  return { clear: { ...env.clear }, secretNames: Object.fromEntries(env.secret.map((ref) => [ref.name, ref.secret])) };
}

function roleLogging(config: DeployConfig, role: RoleConfig): LoggingConfig {
  if (!config.logging && !role.logging) return { options: { ...DEFAULT_LOGGING.options } };
  const driver = role.logging?.driver ?? config.logging?.driver;
  const options = { ...config.logging?.options, ...role.logging?.options };
  return driver === undefined ? { options } : { driver, options };
}

function planRole(config: DeployConfig, role: RoleConfig, destination: string): PlannedRole {
  const env = mergeEnv(config.env, role.env);
  return {
    role: role.name,
    primary: role.primary,
    container: [config.service, role.name, destination].filter((part) => part !== '').join('-'),
    hosts: role.hosts.map(({ address, tags }) => ({
      host: formatServerAddress(address),
      tags: [...tags],
      env: planned(mergeEnv(env, ...tags.map((tag) => config.env_tags[tag]).filter((e): e is EnvConfig => e !== undefined))),
    })),
    cmd: role.cmd ? [...role.cmd] : null,
    env: planned(env),
    proxy: role.proxy,
    labels: { ...config.labels, ...role.labels },
    options: { ...role.options },
    logging: roleLogging(config, role),
    volumes: [...config.volumes],
    ...(config.replicas?.[role.name] ? { replicas: config.replicas[role.name] } : {}),
    // Kamal bridges assets only for roles behind its proxy.
    ...(role.proxy && (role.asset_path ?? config.asset_path) ? { asset_path: role.asset_path ?? config.asset_path } : {}),
  };
}

/** The hosts an accessory lands on: its own, or those of its roles or tags (hostnames, without ports). */
export function accessoryHosts(config: Pick<DeployConfig, 'roles'>, acc: Pick<AccessoryConfig, 'hosts' | 'roles' | 'tags'>): string[] {
  if (acc.hosts.length) return [...acc.hosts];
  const fromRoles = config.roles.filter((r) => acc.roles.includes(r.name)).flatMap((r) => r.hosts);
  const fromTags = config.roles.flatMap((r) => r.hosts).filter((h) => h.tags.some((t) => acc.tags.includes(t)));
  return [...new Set([...fromRoles, ...fromTags].map((h) => h.address.host))];
}

function planAccessory(config: DeployConfig, acc: AccessoryConfig): PlannedAccessory {
  return {
    name: acc.name,
    service: acc.service,
    image: acc.image,
    hosts: accessoryHosts(config, acc),
    cmd: acc.cmd ? [...acc.cmd] : null,
    port: acc.port ?? null,
    env: planned(acc.env),
    labels: { ...acc.labels },
    options: { ...acc.options },
    files: acc.files.map((f) => ({ ...f })),
    directories: acc.directories.map((d) => ({ ...d })),
    volumes: [...acc.volumes],
    ...(acc.proxy ? { proxy: acc.proxy } : {}),
  };
}

export function planContainers(config: DeployConfig, destination: string = config.destination): Plan {
  const roles = config.roles.map((role) => planRole(config, role, destination));
  const accessories = config.accessories.map((acc) => planAccessory(config, acc));
  const names = new Set<string>();
  for (const env of [...roles.flatMap((r) => [r.env, ...r.hosts.map((h) => h.env)]), ...accessories.map((a) => a.env)]) {
    for (const secret of Object.values(env.secretNames)) names.add(secret);
  }
  for (const credential of [config.registry?.username, config.registry?.password]) if (credential && 'secret' in credential) names.add(credential.secret);
  for (const source of config.auto_deploy?.sources ?? []) if (source.secret !== undefined) names.add(source.secret);
  // Only a manifest with jobs carries notify, so without jobs its secrets are not needed.
  if (config.notify && config.cron) {
    if ('secret' in config.notify.url) names.add(config.notify.url.secret);
    if (config.notify.secret !== undefined) names.add(config.notify.secret);
  }
  for (const role of config.roles) {
    if (role.proxy && typeof role.proxy.ssl === 'object') names.add(role.proxy.ssl.certificate_pem).add(role.proxy.ssl.private_key_pem);
  }
  return { service: config.service, destination, image: config.image, roles, accessories, secretNames: [...names].sort() };
}
