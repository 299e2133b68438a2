// PURE: what a release's container for one role looks like — name, labels,
// environment, restart policy, network. The engine hands the result to Docker.
import { createHash } from 'node:crypto';
import type { ManifestPayload } from '../../shared/manifest.js';

export type Role = ManifestPayload['roles'][string];

export interface ContainerSpec {
  name: string;
  image: string;
  cmd?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  restartPolicy: 'unless-stopped' | 'no';
}

export interface ContainerContext {
  deployId: number;
  /** The BERTH_HOST / KAMAL_HOST value: this server's name as the operator knows it. */
  hostname: string;
  network: string;
}

export const APP_KIND = 'app';

export const LABEL = {
  service: 'berth.service',
  role: 'berth.role',
  release: 'berth.release',
  destination: 'berth.destination',
  kind: 'berth.kind',
  deploy: 'berth.deploy',
  seq: 'berth.seq',
  spec: 'berth.spec',
} as const;

export function containerName(service: string, role: string, destination: string, version: string): string {
  return [service, role, ...(destination ? [destination] : []), version].join('-');
}

/**
 * Whether labels say "this is the container of that release's role". Names are
 * not enough: `a-web` + role `x` and `a` + role `web-x` give the same name.
 */
export function isReleaseContainer(
  labels: Record<string, string>,
  r: { service: string; destination: string; role: string; release: string },
): boolean {
  return (
    labels[LABEL.kind] === APP_KIND &&
    labels[LABEL.service] === r.service &&
    (labels[LABEL.destination] ?? '') === r.destination &&
    labels[LABEL.role] === r.role &&
    labels[LABEL.release] === r.release
  );
}

export function roleOf(manifest: ManifestPayload, role: string): Role {
  const found = Object.hasOwn(manifest.roles, role) ? manifest.roles[role] : undefined;
  if (!found) throw new Error(`role ${role} is not in the manifest of ${manifest.service} ${manifest.version}`);
  return found;
}

/**
 * A fingerprint of everything that shapes the container of a role, taken over
 * the manifest as signed (secrets still sealed), so reusing a retained
 * container is only done when nothing about it changed. Sealed values differ
 * on every seal, so a manifest with secrets always gets a fresh container.
 */
export function specFingerprint(manifest: ManifestPayload, role: string): string {
  const r = roleOf(manifest, role);
  const canonical = JSON.stringify([
    manifest.image,
    r.cmd ?? null,
    sortedEntries(r.env.clear),
    sortedEntries(r.env.secret),
    sortedEntries(r.labels ?? {}),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

export function containerLabels(manifest: ManifestPayload, role: string, ctx: Pick<ContainerContext, 'deployId'>): Record<string, string> {
  return {
    // User labels first: berth.* must never be overridden by a manifest.
    ...(roleOf(manifest, role).labels ?? {}),
    [LABEL.service]: manifest.service,
    [LABEL.role]: role,
    [LABEL.release]: manifest.version,
    [LABEL.destination]: manifest.destination,
    [LABEL.kind]: APP_KIND,
    [LABEL.deploy]: String(ctx.deployId),
    [LABEL.seq]: String(manifest.seq),
    [LABEL.spec]: specFingerprint(manifest, role),
  };
}

/**
 * `secrets` are the role's unsealed secret values; they go into the
 * environment only. Berth's own variables win over the manifest's so an app
 * can rely on them.
 */
export function containerSpec(
  manifest: ManifestPayload,
  role: string,
  ctx: ContainerContext,
  secrets: Record<string, string>,
): ContainerSpec {
  const r = roleOf(manifest, role);
  const name = containerName(manifest.service, role, manifest.destination, manifest.version);
  const env: Record<string, string> = {
    ...r.env.clear,
    ...secrets,
    BERTH_SERVICE: manifest.service,
    BERTH_ROLE: role,
    BERTH_RELEASE: manifest.version,
    BERTH_HOST: ctx.hostname,
    BERTH_DESTINATION: manifest.destination,
    KAMAL_VERSION: manifest.version,
    KAMAL_HOST: ctx.hostname,
    KAMAL_CONTAINER_NAME: name,
    KAMAL_DESTINATION: manifest.destination,
  };
  return {
    name,
    image: manifest.image,
    ...(r.cmd ? { cmd: [...r.cmd] } : {}),
    env,
    labels: containerLabels(manifest, role, ctx),
    network: ctx.network,
    restartPolicy: 'unless-stopped',
  };
}

function sortedEntries(record: Record<string, string>): Array<[string, string]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
