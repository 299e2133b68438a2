// A plan (what Kamal would run) + a resolved image + one agent → the release
// manifest for that agent: every role the host is in, with secret values, the
// registry password, the auto_deploy webhook secrets and the cron notify hook
// sealed to that agent's key; the cron jobs this host runs; the accessories
// placed on it (manifest-accessories.ts) and the backups it takes
// (manifest-backups.ts).

import { randomBytes } from 'node:crypto';
import type { ManifestInput } from '../shared/manifest.js';
import type { SealBinding } from '../shared/sealing.js';
import { manifestSubject } from '../shared/manifest.js';
import { notifyUrlProblem } from '../shared/manifest-cron.js';
import { ConfigError } from '../shared/errors.js';
import { parseAssetPath } from '../shared/manifest-assets.js';
import { findRouteClash } from '../shared/routes.js';
import type { DeployConfig } from './config/types.js';
import type { Plan, PlannedRole } from './config/plan.js';
import type { RegistryLogin } from './release-inputs.js';
import { accessoriesOnHost, checkAccessoryInputs, manifestAccessories } from './manifest-accessories.js';
import { checkAccessoryRoutes } from './manifest-accessory-routes.js';
import { manifestBackups } from './manifest-backups.js';
import { usesWideEnvNames } from './config/schema-env.js';

// Accepting a release is immediate; ten minutes covers clock skew and slow fan-out.
export const MANIFEST_TTL_S = 600;

type ManifestRole = ManifestInput['roles'][string];

export interface ManifestFacts {
  kid: string;
  agentId: string;
  version: string;
  /** repo@sha256:… */
  image: string;
  seq: number;
  nowSeconds: number;
  jti?: string;
  /** Accessory name → repo@sha256 when resolved before; otherwise looked up once per plan. */
  accessoryImages?: Readonly<Record<string, string>>;
  /** Kamal's error_pages_path, read by cli/error-pages.ts: status → HTML. */
  errorPages?: Readonly<Record<string, string>>;
  /** The CLI's environment, which accessory `*.erb` files render with (as deploy.yml does). */
  processEnv?: Readonly<Record<string, string | undefined>>;
}

export interface Sealing {
  /** Seals a value to this agent's X25519 key, for the one use it may open for. */
  seal(plaintext: string, binding: SealBinding): Promise<string>;
  secret(name: string): string;
  registry: RegistryLogin | undefined;
}

/** What `deploy push` says after a release with a bake window went live. */
export function bakeNotice(version: string, seconds: number): string {
  return `bake window: each agent watches ${version} for ${seconds}s and switches back to the previous release by itself if it fails`;
}

export function nextSeq(currentSeq: number, nowMs: number): number {
  return Math.max(nowMs, currentSeq + 1);
}

/** The roles that run on `host` (HOST or HOST:PORT as written in servers:). */
export function rolesOnHost(plan: Plan, host: string): PlannedRole[] {
  return plan.roles.filter((r) => r.hosts.some((h) => h.host === host));
}

function manifestProxy(role: Pick<PlannedRole, 'role' | 'proxy'>): ManifestRole['proxy'] {
  const proxy = role.proxy;
  if (!proxy) return undefined;
  if (proxy.hosts.length === 0) {
    throw new ConfigError(
      `proxy/host: is required: Berth's router routes by host name, so the ${role.role} role needs proxy/host or proxy/hosts`,
      'set proxy: { host: app.example.com }',
    );
  }
  return {
    hosts: [...proxy.hosts],
    app_port: proxy.app_port,
    healthcheck: { ...proxy.healthcheck },
    // Kamal's default (30 s) is also the router's, so it is only sent when changed.
    ...(proxy.response_timeout !== 30 ? { response_timeout: proxy.response_timeout } : {}),
    // false is the router's default (client forwarding headers replaced), so only true is sent.
    ...(proxy.forward_headers === true ? { forward_headers: true } : {}),
    // Kamal's default is to strip the prefix, so the choice travels with the prefixes.
    ...(proxy.path_prefixes?.length ? { path_prefixes: [...proxy.path_prefixes], strip_path_prefix: proxy.strip_path_prefix ?? true } : {}),
    ...(manifestBuffering(proxy) ?? {}),
    ...(proxy.logging?.request_headers?.length || proxy.logging?.response_headers?.length
      ? {
          logging: {
            ...(proxy.logging.request_headers?.length ? { request_headers: [...proxy.logging.request_headers] } : {}),
            ...(proxy.logging.response_headers?.length ? { response_headers: [...proxy.logging.response_headers] } : {}),
          },
        }
      : {}),
    // A certificate given as files is sealed in manifestRole; true asks the agent's ACME server.
    ...(proxy.ssl === true ? { ssl: true as const } : {}),
    ...(proxy.ssl && proxy.ssl_redirect !== undefined ? { ssl_redirect: proxy.ssl_redirect } : {}),
  };
}

/** Kamal's `ssl: {certificate_pem, private_key_pem}` (secret names), sealed for this role only. */
async function sealedCertificate(role: PlannedRole, s: Sealing, where: { service: string; destination: string; role: string }) {
  const ssl = role.proxy?.ssl;
  if (typeof ssl !== 'object') return undefined;
  return {
    certificate_pem: await s.seal(s.secret(ssl.certificate_pem), { use: 'tls-certificate', ...where }),
    private_key_pem: await s.seal(s.secret(ssl.private_key_pem), { use: 'tls-key', ...where }),
  };
}

// Only what differs from Kamal's defaults travels, which are the agent's too:
// limits of 0 ("unlimited"), buffering both ways, kamal-proxy's memory.
function manifestBuffering(proxy: NonNullable<PlannedRole['proxy']>): { buffering: NonNullable<NonNullable<ManifestRole['proxy']>['buffering']> } | undefined {
  const { max_request_body: req, max_response_body: resp } = proxy.buffering ?? {};
  const buffering = { ...(req ? { max_request_body: req } : {}), ...(resp ? { max_response_body: resp } : {}), ...wholeBodies(proxy) };
  return Object.keys(buffering).length > 0 ? { buffering } : undefined;
}

/** Kamal's requests/responses/memory where they differ from its defaults (feature proxy.buffer.v1). */
function wholeBodies(proxy: NonNullable<PlannedRole['proxy']>): { requests?: false; responses?: false; memory?: number } {
  const b = proxy.buffering ?? {};
  return {
    ...(b.requests === false ? { requests: false as const } : {}),
    ...(b.responses === false ? { responses: false as const } : {}),
    ...(b.memory !== undefined ? { memory: b.memory } : {}),
  };
}

/** Role options older agents refuse (feature roles.docker.v2). */
const DOCKER_V2_OPTIONS = ['volume', 'mount', 'publish', 'network-alias', 'security-opt'];
/** Accessory options agents before accessories.docker.v2 refuse (security-opt came with roles.docker.v2). */
const ACCESSORY_DOCKER_V2_OPTIONS = ['volume', 'mount', 'publish', 'network-alias'];
const usesAny = (options: Record<string, unknown>, names: readonly string[]) => names.some((o) => Object.hasOwn(options, o));

/** Agent features a release of this plan needs beyond the basic ones (older agents refuse unknown fields). */
export function planFeatures(plan: Plan, config: Pick<DeployConfig, 'auto_deploy' | 'cron' | 'error_pages_path'>): string[] {
  // Only hosts with roles get a manifest; accessories on none of them need no feature.
  const placed = plan.accessories.filter((a) => plan.roles.some((r) => r.hosts.some((h) => accessoriesOnHost(plan, h.host).includes(a))));
  return [
    ...(plan.roles.some((r) => r.proxy?.forward_headers === true) ? ['proxy.forward_headers.v1'] : []),
    ...(plan.roles.some((r) => r.proxy?.path_prefixes?.length) ? ['proxy.paths.v1'] : []),
    ...(plan.roles.some((r) => r.proxy?.buffering?.max_request_body || r.proxy?.buffering?.max_response_body) ? ['proxy.buffering.v1'] : []),
    ...(plan.roles.some((r) => r.proxy && Object.keys(wholeBodies(r.proxy)).length > 0) ? ['proxy.buffer.v1'] : []),
    ...(plan.roles.some((r) => r.proxy?.logging?.request_headers?.length || r.proxy?.logging?.response_headers?.length) ? ['proxy.logging.v1'] : []),
    ...(plan.roles.some((r) => r.proxy?.ssl) ? ['proxy.tls.v1'] : []),
    ...(plan.roles.some((r) => (r.replicas ?? 1) > 1) ? ['roles.replicas.v1'] : []),
    ...([...plan.roles, ...plan.accessories].some((r) => usesWideEnvNames(r.env)) ? ['env.names.v1'] : []),
    ...(plan.roles.some((r) => r.asset_path !== undefined) ? ['roles.assets.v1'] : []),
    ...(plan.roles.some((r) => usesAny(r.options, DOCKER_V2_OPTIONS)) || placed.some((a) => usesAny(a.options, ['security-opt'])) ? ['roles.docker.v2'] : []),
    ...(placed.some((a) => usesAny(a.options, ACCESSORY_DOCKER_V2_OPTIONS)) ? ['accessories.docker.v2'] : []),
    ...(config.error_pages_path !== undefined && plan.roles.some((r) => r.proxy) ? ['proxy.error_pages.v1'] : []),
    ...(config.auto_deploy ? ['auto_deploy.v1'] : []),
    ...(Object.keys(config.cron ?? {}).length > 0 ? ['cron.v1'] : []),
    ...(placed.length > 0 ? ['accessories.v1'] : []),
    ...(placed.some((a) => a.proxy) ? ['accessories.proxy.v1'] : []),
  ];
}

/** The hosts (as written in servers:) that run cron job `name`: the role's first host, or all of them. */
export function cronJobHosts(config: DeployConfig, plan: Plan, name: string): string[] {
  const job = config.cron?.[name];
  const hosts = plan.roles.find((r) => r.role === job?.role)?.hosts.map((h) => h.host) ?? [];
  return job?.hosts === 'all' ? hosts : hosts.slice(0, 1);
}

function manifestCron(config: DeployConfig, plan: Plan, host: string): ManifestInput['cron'] {
  const jobs: NonNullable<ManifestInput['cron']> = {};
  for (const [name, job] of Object.entries(config.cron ?? {})) {
    if (!cronJobHosts(config, plan, name).includes(host)) continue;
    jobs[name] = { ...job, command: [...job.command] };
  }
  return Object.keys(jobs).length > 0 ? jobs : undefined;
}

async function manifestNotify(config: DeployConfig, s: Sealing): Promise<ManifestInput['notify']> {
  const notify = config.notify;
  if (!notify) return undefined;
  const where = { service: config.service, destination: config.destination };
  let url: string;
  if ('secret' in notify.url) {
    url = s.secret(notify.url.secret);
    const problem = notifyUrlProblem(url);
    // The value stays out of the message: a hook URL is often its own credential.
    if (problem) throw new ConfigError(`notify/url: the value of secret ${notify.url.secret} ${problem}`, 'put an http(s) URL in that secret');
  } else url = notify.url.literal;
  return {
    url: await s.seal(url, { use: 'notify-url', ...where }),
    ...(notify.secret !== undefined ? { secret: await s.seal(s.secret(notify.secret), { use: 'notify-secret', ...where }) } : {}),
    timeout: notify.timeout,
  };
}

async function manifestAutoDeploy(config: DeployConfig, s: Sealing): Promise<ManifestInput['auto_deploy']> {
  const policy = config.auto_deploy;
  if (!policy) return undefined;
  const sources: NonNullable<NonNullable<ManifestInput['auto_deploy']>['sources']> = [];
  for (const { name, secret } of policy.sources) {
    const binding = { use: 'webhook-secret' as const, service: config.service, destination: config.destination, source: name };
    sources.push(secret === undefined ? { name } : { name, secret: await s.seal(s.secret(secret), binding) });
  }
  return {
    tag: policy.tag,
    ...(sources.length > 0 ? { sources } : {}),
    ...(policy.poll !== undefined ? { poll: policy.poll } : {}),
  };
}

/**
 * Throws the ConfigError a push would meet, before any server is contacted, and
 * returns warnings for proxy settings the router does not apply yet, so nobody
 * believes they are in force.
 */
export function checkDeployable(plan: Plan): string[] {
  if (plan.roles.every((r) => r.hosts.length === 0)) throw new ConfigError('servers: no role has a host to deploy to');
  const warnings: string[] = [];
  for (const role of plan.roles) {
    manifestProxy(role);
    if (role.asset_path !== undefined) parseAssetPath(role.asset_path, `servers/${role.role}/asset_path`);
    const p = role.proxy;
    if (!p) continue;
    const wildcard = p.hosts.find((h) => h.startsWith('*.'));
    if (p.ssl === true && wildcard) {
      throw new ConfigError(
        `proxy/ssl: automatic certificates (HTTP-01) cannot cover the wildcard host ${wildcard} of the ${role.role} role`,
        'give a certificate for wildcard hosts: proxy/ssl: { certificate_pem: SECRET, private_key_pem: SECRET }',
      );
    }
  }
  checkRouteClashes(plan);
  checkAccessoryRoutes(plan, rolesOnHost);
  warnings.push(...checkAccessoryInputs(plan));
  return [...new Set(warnings)];
}

// Two roles on one server routing the same host and prefix: the router would refuse the set at the switch.
function checkRouteClashes(plan: Plan): void {
  const servers = new Set(plan.roles.flatMap((r) => r.hosts.map((h) => h.host)));
  for (const server of servers) {
    const claims = rolesOnHost(plan, server).flatMap((r) => (r.proxy ? [{ owner: r.role, hosts: r.proxy.hosts, prefixes: r.proxy.path_prefixes }] : []));
    const clash = findRouteClash(claims);
    if (clash) {
      throw new ConfigError(
        `proxy: roles ${clash.other} and ${clash.owner} both route host ${clash.host} under path prefix ${clash.prefix} on ${server}`,
        'give each role its own host or path_prefix',
      );
    }
  }
}

async function manifestRole(config: DeployConfig, role: PlannedRole, host: string, s: Sealing): Promise<ManifestRole> {
  const env = role.hosts.find((h) => h.host === host)?.env ?? role.env;
  const secret: Record<string, string> = {};
  const where = { service: config.service, destination: config.destination, role: role.role };
  for (const [name, secretName] of Object.entries(env.secretNames)) secret[name] = await s.seal(s.secret(secretName), { use: 'env', ...where, name });
  const manifestedProxy = manifestProxy(role);
  const certificate = await sealedCertificate(role, s, where);
  const proxy = manifestedProxy && certificate ? { ...manifestedProxy, ssl: certificate } : manifestedProxy;
  return {
    ...(role.cmd ? { cmd: [...role.cmd] } : {}),
    env: { clear: { ...env.clear }, secret },
    ...(Object.keys(role.labels).length > 0 ? { labels: { ...role.labels } } : {}),
    ...(role.volumes.length > 0 ? { volumes: [...role.volumes] } : {}),
    ...(Object.keys(role.options).length > 0 ? { options: { ...role.options } } : {}),
    // Without a driver Kamal passes only --log-opt, which applies to Docker's default driver.
    logging: { driver: role.logging.driver ?? 'json-file', options: { ...role.logging.options } },
    ...(proxy ? { proxy } : {}),
    // One container is what agents without roles.replicas.v1 run: only more travels.
    ...(role.replicas !== undefined && role.replicas > 1 ? { replicas: role.replicas } : {}),
    ...(role.asset_path !== undefined ? { assets: parseAssetPath(role.asset_path, `servers/${role.role}/asset_path`) } : {}),
  };
}

export async function buildManifestPayload(config: DeployConfig, plan: Plan, host: string, facts: ManifestFacts, sealing: Sealing): Promise<ManifestInput> {
  const roles: Record<string, ManifestRole> = {};
  for (const role of rolesOnHost(plan, host)) roles[role.role] = await manifestRole(config, role, host, sealing);
  const login = sealing.registry;
  const autoDeploy = await manifestAutoDeploy(config, sealing);
  const cron = manifestCron(config, plan, host);
  // Only a host with jobs reports failed runs; others never open the hook.
  const notify = cron ? await manifestNotify(config, sealing) : undefined;
  const accessories = await manifestAccessories(config, plan, host, sealing, facts.accessoryImages, facts.processEnv);
  // A routed accessory's proxy travels as a role's does (ssl: true only, schema-accessory-proxy.ts).
  for (const [name, acc] of Object.entries(accessories ?? {})) {
    const proxy = manifestProxy({ role: `accessory ${name}`, proxy: plan.accessories.find((a) => a.name === name)?.proxy ?? null });
    if (proxy) acc.proxy = proxy as NonNullable<typeof acc.proxy>;
  }
  const backups = manifestBackups(config, plan, host);
  return {
    apiVersion: 'berth/v1',
    iss: facts.kid,
    aud: facts.agentId,
    sub: manifestSubject(config.service, config.destination),
    iat: facts.nowSeconds,
    exp: facts.nowSeconds + MANIFEST_TTL_S,
    jti: facts.jti ?? randomBytes(16).toString('base64url'),
    seq: facts.seq,
    service: config.service,
    destination: config.destination,
    version: facts.version,
    image: facts.image,
    roles,
    ...(login ? { registry: { server: login.server, username: login.username, password: await sealing.seal(login.password, { use: 'registry-password', service: config.service, destination: config.destination, server: login.server }) } } : {}),
    deploy_timeout: config.deploy_timeout,
    drain_timeout: config.drain_timeout,
    readiness_delay: config.readiness_delay,
    stop_timeout: config.stop_timeout,
    retain_containers: config.retain_containers,
    ...(config.bake !== undefined ? { bake: config.bake } : {}),
    ...(autoDeploy ? { auto_deploy: autoDeploy } : {}),
    ...(cron ? { cron } : {}),
    ...(notify ? { notify } : {}),
    ...(accessories ? { accessories } : {}),
    ...(backups ? { backups } : {}),
    // As Kamal, the pages are the proxy's: a host without a proxied role gets none.
    ...(facts.errorPages && Object.values(roles).some((r) => r.proxy) ? { error_pages: { ...facts.errorPages } } : {}),
  };
}
