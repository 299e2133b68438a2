// The release manifest payload (apiVersion berth/v1). Strict everywhere: an
// agent refuses fields it does not know rather than ignore what a newer CLI
// meant. Errors name the field path, like `roles.web.proxy.app_port: expected number`.
import { z } from 'zod';
import { assetsSchema } from './manifest-assets.js';
import { errorPagesSchema } from './error-pages.js';
import { UserError } from './errors.js';
import { parseTagPattern } from './tag-pattern.js';
import { backupSchema, MAX_BACKUPS } from './manifest-backups.js';
import { cronJobSchema, notifySchema } from './manifest-cron.js';
import { ENV_VARIABLE_NAME, JWE_COMPACT, NAME, NAME_RULE } from './manifest-names.js';
import { describeIssues } from './schema-issues.js';
import { MAX_BUFFER_MEMORY } from './routes.js';

export { describeIssues } from './schema-issues.js';

export { NAME } from './manifest-names.js';

export const MANIFEST_API_VERSION = 'berth/v1';
export const MANIFEST_MAX_LIFETIME_S = 900;

const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const KEY_ID = /^[A-Za-z0-9_-]{43}$/;
const JTI = /^[A-Za-z0-9_-]{16,128}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
// A wildcard needs at least two labels after `*.`, so one service cannot claim a whole TLD (`*.com`).
const HOST = new RegExp(`^(?:(?=.{1,253}$)${LABEL}(\\.${LABEL})*|\\*\\.(?=.{1,251}$)${LABEL}(\\.${LABEL})+)$`);

// Docker reference grammar, restricted to `name@sha256:<hex>`: optional
// registry host[:port], then lowercase path components.
const DOMAIN = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?/)?`;
const PATH_COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const DIGEST_REFERENCE = new RegExp(String.raw`^${DOMAIN}${PATH_COMPONENT}(?:/${PATH_COMPONENT})*@sha256:[a-f0-9]{64}$`);

export function isDigestReference(image: string): boolean {
  return typeof image === 'string' && image.length <= 512 && DIGEST_REFERENCE.test(image);
}

const REGISTRY_SERVER = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/;
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The registry host an image reference is pulled from, by Docker's rule (no host part: Docker Hub). */
export function imageRegistry(image: string): string {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  const isHost = first !== '' && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  return isHost ? first : 'docker.io';
}

/** Registry hosts compared as Docker does: case-insensitive, Docker Hub's aliases equal. */
export function sameRegistry(a: string, b: string): boolean {
  const norm = (h: string) => (DOCKER_HUB_HOSTS.has(h.toLowerCase()) ? 'docker.io' : h.toLowerCase());
  return norm(a) === norm(b);
}

/** `sub` of a manifest: the service, or `service@destination`. */
export function manifestSubject(service: string, destination: string): string {
  return destination === '' ? service : `${service}@${destination}`;
}

/** A release version as manifests allow it (also for versions named in API paths and on the command line). */
export function isValidVersion(version: string): boolean {
  return typeof version === 'string' && VERSION.test(version);
}

// Messages flagged `standalone` already name their field and are not prefixed.
const standalone = { standalone: true };

const name = z.string().regex(NAME, NAME_RULE);
const boundedString = (max: number) => z.string().max(max, `must be at most ${max} characters`);
const seconds = (min: number, max: number) => z.number().min(min).max(max);
const stringMap = (key: z.ZodString, value: z.ZodString, maxEntries: number) =>
  z.record(key, value).refine((m) => Object.keys(m).length <= maxEntries, `at most ${maxEntries} entries`);

/** Kamal's default health check path, used when a role names none. */
export const DEFAULT_HEALTH_PATH = '/up';

const healthcheckSchema = z.strictObject({
  path: z
    .string()
    .max(1024)
    .regex(/^\/[\x21-\x7e]*$/, 'must start with "/" and contain no spaces or control characters')
    .default(DEFAULT_HEALTH_PATH),
  interval: seconds(0.1, 3600).default(1),
  timeout: seconds(0.1, 300).default(5),
});

// A bare path: visible ASCII without query or fragment markers, and no dot
// segments or empty ones (a prefix the router could never match as written).
const pathPrefixSchema = z
  .string()
  .regex(/^\/[\x21-\x22\x24-\x3e\x40-\x7e]{0,1023}$/, 'must start with "/" and hold no spaces, control characters, "?" or "#"')
  .refine((p) => !p.slice(1).split('/').some((seg, i, all) => seg === '.' || seg === '..' || (seg === '' && i < all.length - 1)), 'must not hold "." or ".." segments or "//"');
const byteCount = z.number().int().min(0).max(2 ** 50);
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be an HTTP header name');

const proxySchema = z.strictObject({
  hosts: z.array(z.string().regex(HOST, 'must be a host name (optionally *.domain)')).min(1).max(32),
  app_port: z.number().int().min(1).max(65535).default(80),
  healthcheck: healthcheckSchema.default({ path: DEFAULT_HEALTH_PATH, interval: 1, timeout: 5 }),
  response_timeout: seconds(1, 3600).optional(),
  /** Trust the client's Forwarded / X-Forwarded-* headers (feature proxy.forward_headers.v1): a proxy in front sets them. */
  forward_headers: z.boolean().optional(),
  /** Serve only these path prefixes of the hosts (feature proxy.paths.v1); absent means every path. */
  path_prefixes: z.array(pathPrefixSchema).min(1).max(20).optional(),
  /** Forward the path without the matched prefix; Kamal's default (true) applies when absent. */
  strip_path_prefix: z.boolean().optional(),
  /**
   * Kamal's buffering. Body size limits in bytes, 0 for none (feature
   * proxy.buffering.v1). Whole bodies are buffered unless `requests` or
   * `responses` is false, in memory up to `memory` bytes (feature
   * proxy.buffer.v1 for these three); absent, Kamal's defaults apply (both
   * buffered, 1 MiB), also for manifests written before they existed.
   */
  buffering: z
    .strictObject({
      max_request_body: byteCount.optional(),
      max_response_body: byteCount.optional(),
      requests: z.boolean().optional(),
      responses: z.boolean().optional(),
      memory: z.number().int().min(0).max(MAX_BUFFER_MEMORY).optional(),
    })
    .optional(),
  /** Headers the router's request log line carries (feature proxy.logging.v1); credentials are redacted. */
  logging: z
    .strictObject({ request_headers: z.array(headerName).max(50).optional(), response_headers: z.array(headerName).max(50).optional() })
    .optional(),
  /**
   * HTTPS (feature proxy.tls.v1): true for a certificate per host from the
   * agent's ACME server, or a certificate and key given as sealed PEM.
   */
  ssl: z
    .union([
      z.literal(true),
      z.strictObject({
        certificate_pem: z.string().regex(JWE_COMPACT, 'must be a sealed value (JWE compact, ECDH-ES)'),
        private_key_pem: z.string().regex(JWE_COMPACT, 'must be a sealed value (JWE compact, ECDH-ES)'),
      }),
    ])
    .optional(),
  /** With ssl: plain HTTP requests are redirected to HTTPS unless false. */
  ssl_redirect: z.boolean().optional(),
});

const envSchema = z
  .strictObject({
    clear: stringMap(z.string().regex(ENV_VARIABLE_NAME, 'must be an environment variable name'), boundedString(32 * 1024), 256).default({}),
    secret: stringMap(
      z.string().regex(ENV_VARIABLE_NAME, 'must be an environment variable name'),
      z.string().regex(JWE_COMPACT, 'must be a sealed value (JWE compact, ECDH-ES)'),
      256,
    ).default({}),
  })
  .superRefine((env, ctx) => {
    for (const key of Object.keys(env.secret)) {
      if (key in env.clear) ctx.addIssue({ code: 'custom', path: ['secret', key], message: 'is also set in env.clear' });
    }
  });

// The engine hands these credentials to whatever registry the image names, so
// they are accepted only for that registry (checked against `image` below).
const registrySchema = z.strictObject({
  server: z.string().max(255, 'must be at most 255 characters').regex(REGISTRY_SERVER, 'must be a registry host[:port] (no scheme, no path)'),
  username: z
    .string()
    .min(1, 'must not be empty')
    .max(256, 'must be at most 256 characters')
    .regex(/^[^\x00-\x1f\x7f:]+$/, 'must not contain ":" or control characters'),
  password: z.string().regex(JWE_COMPACT, 'must be a sealed value (JWE compact, ECDH-ES)'),
});

// Docker settings travel as written in deploy.yml (Kamal's forms); the agent
// parses and checks them against its own guardrails (agent/core/guardrails.ts),
// so the schema bounds only their shape and size.
const LINE = /^[^\x00-\x1f\x7f]*$/;
const oneLine = (max: number) => boundedString(max).regex(LINE, 'must be one line without control characters');
const OPTION_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const optionValue = z.union([
  oneLine(1024),
  z.number().finite(),
  z.boolean(),
  z.array(oneLine(1024)).max(50),
]);
const loggingSchema = z.strictObject({
  driver: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/, 'must be a Docker logging driver name'),
  options: stringMap(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a logging option name'), oneLine(1024), 32).default({}),
});

/** Containers of one role on one server (feature roles.replicas.v1); absent means one. */
export const MAX_REPLICAS = 16;

const roleSchema = z.strictObject({
  cmd: z.array(boundedString(4096)).min(1).max(64).optional(),
  env: envSchema.default({ clear: {}, secret: {} }),
  labels: stringMap(
    z
      .string()
      .regex(LABEL_KEY, 'must be a label key')
      .refine((k) => !k.startsWith('berth.'), 'the berth. label prefix is reserved for the agent'),
    boundedString(4096),
    64,
  ).optional(),
  proxy: proxySchema.optional(),
  /** `SOURCE:TARGET[:MODE]`: a host path or a named volume, as in Kamal. */
  volumes: z.array(oneLine(1024).min(3, 'must be SOURCE:TARGET')).max(50).optional(),
  logging: loggingSchema.optional(),
  /** docker run options by long name without dashes (`memory`, `cap-add`, ...): a list repeats the option. */
  options: z
    .record(z.string().regex(OPTION_NAME, 'must be a docker run option name (lower case, without leading dashes)'), optionValue)
    .refine((m) => Object.keys(m).length <= 64, 'at most 64 entries')
    .optional(),
  /** How many containers of the role run here, balanced by the router; absent means one. */
  replicas: z.number().int().min(1).max(MAX_REPLICAS).optional(),
  /** Asset bridging (Kamal's asset_path, feature roles.assets.v1; shared/manifest-assets.ts): proxied roles only. */
  assets: assetsSchema.optional(),
});

// Accessories (feature accessories.v1): a database or cache beside the app,
// run by the agent as Kamal runs them. File contents are sealed (a config file
// often holds a password); directories are a name (a directory the agent keeps
// for the accessory under its state dir) or an absolute host path (judged like
// any bind mount).
export const MAX_ACCESSORIES = 16;
export const ACCESSORY_FILE_MAX_CHARS = 96 * 1024;
const CONTAINER_PATH = /^\/[^\x00-\x1f\x7f:]{0,1023}$/;
// The agent keeps a file at the same path below its own directory: no "..", and not "/" itself.
const containerPath = z
  .string()
  .regex(CONTAINER_PATH, 'must be an absolute path in the container, without ":"')
  .refine((p) => p !== '/' && !p.split('/').includes('..'), 'must not be "/" nor contain ".."');
/** `[IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]`, IPv6 addresses in brackets. */
export const ACCESSORY_PORT = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?\d{1,5}:\d{1,5}(?:\/(?:tcp|udp))?$/;
const sealedValue = z.string().regex(JWE_COMPACT, 'must be a sealed value (JWE compact, ECDH-ES)');

const accessoryFileSchema = z.strictObject({
  target: containerPath,
  /** The content, sealed for {use: accessory-file, service, destination, accessory, target}. */
  content: sealedValue.max(ACCESSORY_FILE_MAX_CHARS),
  mode: z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode like 0644').default('0644'),
  owner: z.string().regex(/^\d{1,10}(:\d{1,10})?$/, 'must be UID or UID:GID').optional(),
});

const accessoryDirectorySchema = z.strictObject({
  source: z
    .string()
    .regex(/^(?:\/[^\x00-\x1f\x7f:]{0,1023}|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$/, 'must be an absolute host path, or a name (a directory the agent keeps for the accessory)')
    .refine((s) => s !== '.' && s !== '..' && !s.split('/').includes('..'), 'must not contain ".."'),
  target: containerPath,
});

const accessorySchema = z.strictObject({
  /** repo@sha256:…, resolved by the CLI like the app's image. */
  image: z.string().refine((image) => isDigestReference(image), 'must be pinned by digest (repo@sha256:...)'),
  cmd: roleSchema.shape.cmd,
  port: z.string().regex(ACCESSORY_PORT, 'must be [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]').optional(),
  /** Secret values sealed for {use: accessory-env, service, destination, accessory, name}. */
  env: envSchema.default({ clear: {}, secret: {} }),
  files: z.array(accessoryFileSchema).max(32).default([]),
  directories: z.array(accessoryDirectorySchema).max(32).default([]),
  volumes: roleSchema.shape.volumes,
  options: roleSchema.shape.options,
  labels: roleSchema.shape.labels,
  /**
   * Routed like a role once it answers its health check (feature
   * accessories.proxy.v1), under the route key `service.accessory`; only
   * automatic certificates (ssl: true).
   */
  proxy: proxySchema.extend({ ssl: z.literal(true).optional() }).optional(),
});

export type AccessorySpec = z.output<typeof accessorySchema>;

/** Registries and senders an auto_deploy policy can accept webhooks from (see DESIGN.md, Webhooks). */
export const WEBHOOK_SOURCES = ['distribution', 'dockerhub', 'github', 'harbor', 'quay', 'generic'] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];
/**
 * Sources that authenticate a delivery with a shared secret: the Authorization
 * header value (distribution, harbor) or the HMAC key (github, generic). Docker
 * Hub and Quay sign nothing, so only the path token guards them and a secret
 * for them would be a false promise.
 */
export const SECRET_WEBHOOK_SOURCES: ReadonlySet<WebhookSource> = new Set<WebhookSource>(['distribution', 'github', 'harbor', 'generic']);
export const POLL_MIN_S = 60;
/** Jobs one release may carry (an agent may allow fewer: berth-agent run --cron-max-jobs). */
export const MAX_CRON_JOBS = 64;
export const POLL_MAX_S = 86400;

const autoDeploySchema = z
  .strictObject({
    tag: z.string().superRefine((text, ctx) => {
      try {
        parseTagPattern(text);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof UserError ? e.message : 'is not a tag pattern' });
      }
    }),
    sources: z
      .array(
        z.strictObject({
          name: z.enum(WEBHOOK_SOURCES),
          secret: z.string().regex(JWE_COMPACT, 'must be a sealed value (JWE compact, ECDH-ES)').optional(),
        }),
      )
      .min(1)
      .max(WEBHOOK_SOURCES.length)
      .optional(),
    /** Seconds between the agent's digest checks of the tag. */
    poll: z.number().int().min(POLL_MIN_S).max(POLL_MAX_S).optional(),
  })
  .superRefine((policy, ctx) => {
    if (policy.sources === undefined && policy.poll === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs sources, poll or both (otherwise nothing could ever trigger it)' });
    }
    const seen = new Set<string>();
    (policy.sources ?? []).forEach((source, i) => {
      if (seen.has(source.name)) ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `${source.name} is listed twice` });
      seen.add(source.name);
      const needs = SECRET_WEBHOOK_SOURCES.has(source.name);
      if (needs && source.secret === undefined) ctx.addIssue({ code: 'custom', path: ['sources', i, 'secret'], message: `required: ${source.name} deliveries are verified with a secret` });
      if (!needs && source.secret !== undefined) ctx.addIssue({ code: 'custom', path: ['sources', i, 'secret'], message: `not allowed: ${source.name} signs nothing, its deliveries are checked by the path token only` });
    });
  });

export type AutoDeployPolicy = z.output<typeof autoDeploySchema>;

export const manifestPayloadSchema = z
  .strictObject({
    apiVersion: z.literal(MANIFEST_API_VERSION),
    iss: z.string().regex(KEY_ID, 'must be a key id (JWK thumbprint)'),
    aud: z.string().regex(KEY_ID, 'must be an agent id (JWK thumbprint)'),
    sub: boundedString(128),
    iat: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    exp: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    jti: z.string().regex(JTI, 'must be 16-128 base64url characters'),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    service: name,
    destination: z.string().regex(new RegExp(`^$|${NAME.source}`), `must be "" or a name that ${NAME_RULE}`),
    version: z.string().regex(VERSION, 'must be 1-128 of A-Z, a-z, 0-9, "_", ".", "-", starting with a letter or digit'),
    image: z.string().superRefine((image, ctx) => {
      if (isDigestReference(image)) return;
      ctx.addIssue({
        code: 'custom',
        message: `image must be pinned by digest (repo@sha256:...), got ${JSON.stringify(image.slice(0, 300))}`,
        params: standalone,
      });
    }),
    roles: z
      .record(z.string().regex(NAME, `role names ${NAME_RULE}`), roleSchema)
      .refine((roles) => Object.keys(roles).length >= 1, 'at least one role is required')
      .refine((roles) => Object.keys(roles).length <= 32, 'at most 32 roles'),
    deploy_timeout: z.number().int().min(1).max(3600).default(30),
    drain_timeout: z.number().int().min(0).max(3600).default(30),
    readiness_delay: z.number().int().min(0).max(600).default(7),
    stop_timeout: z.number().int().min(0).max(600).default(10),
    retain_containers: z.number().int().min(0).max(100).default(5),
    registry: registrySchema.optional(),
    /**
     * Bake window in seconds (feature bake.v1): after the switch the agent
     * keeps checking the new release and switches back by itself if it fails.
     */
    bake: z.number().int().min(1).max(3600).optional(),
    /** Why the operator signed it (feature rollback.v1); absent means a push. */
    trigger: z.enum(['push', 'rollback']).optional(),
    /**
     * What the agent may deploy by itself on a registry webhook or poll
     * (feature auto_deploy.v1); without it, nothing does.
     */
    auto_deploy: autoDeploySchema.optional(),
    /** Jobs this agent runs on a schedule in the release's image (feature cron.v1): shared/manifest-cron.ts. */
    cron: z
      .record(z.string().regex(NAME, `job names ${NAME_RULE}`), cronJobSchema)
      .refine((jobs) => Object.keys(jobs).length <= MAX_CRON_JOBS, `at most ${MAX_CRON_JOBS} jobs`)
      .optional(),
    /** Where the agent reports failed cron runs (feature cron.v1). */
    notify: notifySchema.optional(),
    /** Accessories this agent runs beside the app (feature accessories.v1), by name. */
    accessories: z
      .record(z.string().regex(NAME, `accessory names ${NAME_RULE}`), accessorySchema)
      .refine((a) => Object.keys(a).length <= MAX_ACCESSORIES, `at most ${MAX_ACCESSORIES} accessories`)
      .optional(),
    /** Backups this agent takes (feature backups.v1), by name: shared/manifest-backups.ts. */
    backups: z
      .record(z.string().regex(NAME, `backup names ${NAME_RULE}`), backupSchema)
      .refine((b) => Object.keys(b).length <= MAX_BACKUPS, `at most ${MAX_BACKUPS} backups`)
      .optional(),
    /** Kamal's error pages (feature proxy.error_pages.v1; shared/error-pages.ts): status → HTML the router answers with on this service's routes. */
    error_pages: errorPagesSchema.optional(),
  })
  .superRefine((m, ctx) => {
    for (const [name, role] of Object.entries(m.roles)) {
      // As Kamal: assets are bridged only where the proxy switches traffic.
      if (role.assets && !role.proxy) ctx.addIssue({ code: 'custom', path: ['roles', name, 'assets'], message: 'needs the role to be proxied' });
    }
    for (const [name, acc] of Object.entries(m.accessories ?? {})) {
      // A routed accessory's route key `service.name` is the one a further proxied role of that name has.
      if (acc.proxy && Object.hasOwn(m.roles, name)) ctx.addIssue({ code: 'custom', path: ['accessories', name, 'proxy'], message: `a routed accessory cannot share its name with role ${name}` });
    }
    for (const [job, spec] of Object.entries(m.cron ?? {})) {
      if (!Object.hasOwn(m.roles, spec.role)) {
        ctx.addIssue({ code: 'custom', path: ['cron', job, 'role'], message: `role ${JSON.stringify(spec.role)} is not in this release (roles: ${Object.keys(m.roles).sort().join(', ')})` });
      }
    }
    for (const [name, spec] of Object.entries(m.backups ?? {})) {
      if (spec.accessory !== undefined && !Object.hasOwn(m.accessories ?? {}, spec.accessory)) {
        ctx.addIssue({ code: 'custom', path: ['backups', name, 'accessory'], message: `accessory ${JSON.stringify(spec.accessory)} is not in this release` });
      }
      spec.writers.forEach((role, i) => {
        if (!Object.hasOwn(m.roles, role)) ctx.addIssue({ code: 'custom', path: ['backups', name, 'writers', i], message: `role ${JSON.stringify(role)} is not in this release` });
      });
    }
    const expected = manifestSubject(m.service, m.destination);
    if (m.sub !== expected) {
      ctx.addIssue({ code: 'custom', path: ['sub'], message: `must be ${JSON.stringify(expected)} (service and destination)` });
    }
    if (m.registry && typeof m.image === 'string' && !sameRegistry(m.registry.server, imageRegistry(m.image))) {
      ctx.addIssue({
        code: 'custom',
        path: ['registry', 'server'],
        message: `must be the registry the image is pulled from (${JSON.stringify(imageRegistry(m.image).slice(0, 255))}); credentials are never sent to another registry`,
      });
    }
  });

/** The manifest after parsing: defaults filled in. */
export type ManifestPayload = z.output<typeof manifestPayloadSchema>;
/** What a signer may write: fields with defaults are optional. */
export type ManifestInput = z.input<typeof manifestPayloadSchema>;
export type RoleSpec = ManifestPayload['roles'][string];

/** Validates and fills defaults; throws UserError naming each bad field path. */
export function parseManifestPayload(input: unknown): ManifestPayload {
  const result = manifestPayloadSchema.safeParse(input);
  if (!result.success) throw new UserError(describeIssues(result.error), 'the release manifest does not validate');
  return result.data;
}
