// The validated deploy.yml: Kamal 2's keys with Kamal's defaults, after a
// destination file is merged in. Secrets appear only by name here.

import type { BackupSpec } from '../../shared/manifest-backups.js';
import type { CronConcurrency } from '../../shared/manifest-cron.js';
import type { WebhookSource } from '../../shared/manifest.js';
import type { ServerAddress } from '../address.js';

/** An env var whose value is the secret `secret` (Kamal's `NAME` or `NAME:SECRET`). */
export interface SecretRef {
  name: string;
  secret: string;
}

export interface EnvConfig {
  clear: Record<string, string>;
  secret: SecretRef[];
}

/** A registry credential: a literal from deploy.yml, or the name of a secret. */
export type Credential = { literal: string } | { secret: string };

export interface RegistryConfig {
  server?: string;
  username?: Credential;
  password?: Credential;
}

export interface HealthcheckConfig {
  path: string;
  interval: number;
  timeout: number;
}

export interface ProxyConfig {
  /** Empty means every host not claimed by another app, as in Kamal. */
  hosts: string[];
  app_port: number;
  /** true: automatic certificates; an object names the secrets holding a custom certificate. */
  ssl: boolean | { certificate_pem: string; private_key_pem: string };
  ssl_redirect?: boolean;
  forward_headers?: boolean;
  healthcheck: HealthcheckConfig;
  response_timeout: number;
  path_prefixes?: string[];
  strip_path_prefix?: boolean;
  buffering?: { requests?: boolean; responses?: boolean; max_request_body?: number; max_response_body?: number; memory?: number };
  logging?: { request_headers?: string[]; response_headers?: string[] };
}

export interface LoggingConfig {
  driver?: string;
  options: Record<string, string>;
}

/** docker run options that passed the guardrails: `--name value`, `true` for a bare flag, lists repeat. */
export type DockerOptions = Record<string, string | true | string[]>;

export interface HostEntry {
  address: ServerAddress;
  tags: string[];
}

export interface RoleConfig {
  name: string;
  primary: boolean;
  hosts: HostEntry[];
  /** The container command, split into words the way the host shell would under Kamal. */
  cmd?: string[];
  /** The role's own env (merged over the top level when planning). */
  env: EnvConfig;
  labels: Record<string, string>;
  options: DockerOptions;
  logging?: { driver?: string; options: Record<string, string> };
  /** The role's proxy merged over the top-level proxy, or null when the role is not proxied. */
  proxy: ProxyConfig | null;
  asset_path?: string;
}

export interface AccessoryFileConfig {
  /** As written, relative to the app directory (Kamal's working directory). */
  local: string;
  /** `local` resolved against the app directory by the loader: what a push reads. */
  path?: string;
  /** Absolute path in the container. */
  remote: string;
  /** Octal, e.g. 0755 (Kamal's default). */
  mode: string;
  /** Numeric UID[:GID]. */
  owner?: string;
  /** A `.erb` file (Kamal's rule: the name ends in `erb`): rendered at push with the accessory's env, in this directory (the app's). */
  erbIn?: string;
}

export interface AccessoryDirectoryConfig {
  /** A NAME the agent keeps for the accessory, or an absolute host path. */
  source: string;
  target: string;
}

export interface AccessoryConfig {
  name: string;
  service: string;
  image: string;
  /** Exactly one of hosts / roles / tags was given, as Kamal requires. */
  hosts: string[];
  roles: string[];
  tags: string[];
  cmd?: string[];
  port?: string;
  env: EnvConfig;
  labels: Record<string, string>;
  options: DockerOptions;
  files: AccessoryFileConfig[];
  directories: AccessoryDirectoryConfig[];
  volumes: string[];
  /** Routed by the agent's router once healthy, like a role (schema-accessory-proxy.ts). */
  proxy?: ProxyConfig;
}

export interface BootConfig {
  /** A host count, or a percentage written `N%`. */
  limit?: number | `${number}%`;
  wait?: number;
}

export interface DeployConfig {
  service: string;
  /** The image repository Kamal would use: registry.server prefixed unless already there. */
  image: string;
  destination: string;
  /** Every host of every role, once each (Kamal's all_hosts). */
  servers: ServerAddress[];
  primary_role: string;
  roles: RoleConfig[];
  /** The top-level `proxy:` as written (with defaults); roles carry their merged view. */
  proxy?: ProxyConfig;
  env: EnvConfig;
  /** Per-tag env, from `env/tags`. */
  env_tags: Record<string, EnvConfig>;
  registry?: RegistryConfig;
  volumes: string[];
  labels: Record<string, string>;
  logging?: LoggingConfig;
  boot: BootConfig;
  deploy_timeout: number;
  drain_timeout: number;
  readiness_delay: number;
  stop_timeout: number;
  retain_containers: number;
  /** Berth's bake window in seconds: after a deploy the agent watches the release and switches back if it fails. */
  bake?: number;
  require_destination: boolean;
  allow_empty_roles: boolean;
  aliases: Record<string, string>;
  minimum_version?: string;
  accessories: AccessoryConfig[];
  asset_path?: string;
  hooks_path?: string;
  error_pages_path?: string;
  /** Kamal's secrets_path (default .kamal/secrets), for the secrets reader. */
  secrets_path?: string;
  agent: { port: number; url?: string; known_agents?: string };
  /** From `cron:` or `x-berth/cron:`: job name → job (cli/config/schema-cron.ts). */
  cron?: Record<string, CronJobConfig>;
  /** From `notify:` or `x-berth/notify:`: where agents report failed cron runs. */
  notify?: NotifyConfig;
  /** From `backups:` or `x-berth/backups:`: backup name → backup (cli/config/schema-backups.ts). */
  backups?: Record<string, BackupConfig>;
  /** From `auto_deploy:` or `x-berth/auto_deploy:`. */
  auto_deploy?: AutoDeployConfig;
  /** From `replicas:` or `x-berth/replicas:`: role → containers per server, only roles with more than one. */
  replicas?: Record<string, number>;
}

export interface AutoDeploySource {
  name: WebhookSource;
  /** The NAME of the secret in .kamal/secrets (sources that verify with one). */
  secret?: string;
}

/** What the agent may deploy by itself: see shared/manifest.ts (auto_deploy). */
export interface AutoDeployConfig {
  tag: string;
  sources: AutoDeploySource[];
  /** Seconds. */
  poll?: number;
}

/** One `cron:` job, defaults applied: see shared/manifest-cron.ts for what the agent does with it. */
export interface CronJobConfig {
  schedule: string;
  timezone: string;
  /** The argv, split like a role's cmd when written as one string. */
  command: string[];
  role: string;
  /** Seconds. */
  timeout: number;
  concurrency: CronConcurrency;
  retries: number;
  /** Seconds before the first retry (doubling after). */
  retry_backoff: number;
  /** one: the role's first host in servers: order; all: every host of the role. */
  hosts: 'one' | 'all';
}

/** One `backups:` entry, defaults applied: the manifest's spec (shared/manifest-backups.ts) and, without an accessory, the role whose hosts take it. */
export interface BackupConfig extends BackupSpec {
  role?: string;
}

export interface NotifyConfig {
  /** A literal http(s) URL, or the NAME of the secret holding it. */
  url: { literal: string } | { secret: string };
  /** The NAME of the secret holding the HMAC key. */
  secret?: string;
  /** Seconds. */
  timeout: number;
}
