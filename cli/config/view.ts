// The merged, validated config as `deploy config` shows it: the plan per role
// and accessory, settings with their defaults, and secrets by name only. A
// literal registry password written in deploy.yml is never shown, nor a
// literal notify URL's path (often its token).

import { formatServerAddress } from '../address.js';
import { planContainers, type PlannedAccessory } from './plan.js';
import { KAMAL_COMPAT_VERSION } from './schema.js';
import type { Credential, DeployConfig, NotifyConfig, RegistryConfig } from './types.js';

export const REDACTED = '[redacted]';

function showCredential(credential: Credential | undefined, secret: boolean): unknown {
  if (!credential) return undefined;
  if ('secret' in credential) return { secret: credential.secret };
  return secret ? REDACTED : credential.literal;
}

function showRegistry(registry: RegistryConfig | undefined): unknown {
  if (!registry) return undefined;
  return {
    server: registry.server ?? 'docker.io',
    ...(registry.username ? { username: showCredential(registry.username, false) } : {}),
    ...(registry.password ? { password: showCredential(registry.password, true) } : {}),
  };
}

/** Secrets by name (plan env already holds only names); files as `local → remote (mode)`. */
function showAccessory(acc: PlannedAccessory): unknown {
  const { files, ...rest } = acc;
  return { ...rest, files: files.map((f) => `${f.local} → ${f.remote} (${f.mode}${f.owner ? `, owner ${f.owner}` : ''})`) };
}

/** A hook URL's path or query often is its token (Slack's is): only scheme and host are shown. */
function redactUrl(text: string): string {
  const url = new URL(text);
  const bare = url.pathname === '/' && url.search === '' && url.hash === '';
  return `${url.protocol}//${url.host}/${bare ? '' : '…'}`;
}

function showNotify(notify: NotifyConfig | undefined): unknown {
  if (!notify) return undefined;
  return {
    url: 'secret' in notify.url ? { secret: notify.url.secret } : redactUrl(notify.url.literal),
    ...(notify.secret !== undefined ? { secret: { secret: notify.secret } } : {}),
    timeout: notify.timeout,
  };
}

function defined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

export function configView(config: DeployConfig, files: string[]): Record<string, unknown> {
  const plan = planContainers(config);
  return defined({
    service: config.service,
    image: config.image,
    destination: config.destination,
    files,
    // Which Kamal release's configuration format this was read as.
    kamal_version: KAMAL_COMPAT_VERSION,
    primary_role: config.primary_role,
    servers: config.servers.map(formatServerAddress),
    roles: plan.roles,
    accessories: plan.accessories.map(showAccessory),
    registry: showRegistry(config.registry),
    secrets: plan.secretNames,
    boot: config.boot,
    deploy_timeout: config.deploy_timeout,
    drain_timeout: config.drain_timeout,
    readiness_delay: config.readiness_delay,
    stop_timeout: config.stop_timeout,
    retain_containers: config.retain_containers,
    bake: config.bake,
    replicas: config.replicas,
    require_destination: config.require_destination,
    allow_empty_roles: config.allow_empty_roles,
    aliases: config.aliases,
    minimum_version: config.minimum_version,
    asset_path: config.asset_path,
    error_pages_path: config.error_pages_path,
    secrets_path: config.secrets_path,
    agent: config.agent,
    cron: config.cron,
    notify: showNotify(config.notify),
    backups: config.backups,
    // Source secrets are names in .kamal/secrets already, never values.
    auto_deploy: config.auto_deploy,
  });
}
