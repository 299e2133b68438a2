// The accessories of one host's manifest: the planned accessories placed on
// that host, each image pinned to a digest (looked up once per push), env
// secrets and file contents sealed to the agent for that one accessory.

import { readFileSync, statSync } from 'node:fs';
import { ACCESSORY_FILE_MAX_CHARS, imageRegistry, sameRegistry, type ManifestInput } from '../shared/manifest.js';
import { parseImageReference, pinnedImage } from '../shared/image-reference.js';
import { ConfigError } from '../shared/errors.js';
import { parseServerAddress } from './address.js';
import type { DeployConfig } from './config/types.js';
import type { Plan, PlannedAccessory } from './config/plan.js';
import type { SealBinding } from '../shared/sealing.js';
import type { RegistryLogin } from './release-inputs.js';
import { resolveImageDigest } from './registry.js';
import { renderAccessoryFile } from './accessory-erb.js';

/** Raw bytes a file may have: sealed (base64url + header) it stays under ACCESSORY_FILE_MAX_CHARS. */
export const ACCESSORY_FILE_MAX_BYTES = 64 * 1024;

type ManifestAccessories = NonNullable<ManifestInput['accessories']>;

/** What the manifest builder's Sealing gives this module. */
interface Sealing {
  seal(plaintext: string, binding: SealBinding): Promise<string>;
  secret(name: string): string;
  registry: RegistryLogin | undefined;
}

function hostName(host: string): string {
  try {
    return parseServerAddress(host).host;
  } catch {
    // Not HOST[:PORT]: compared as written.
    return host;
  }
}

/** The accessories placed on `host` (HOST or HOST:PORT as written in servers:). */
export function accessoriesOnHost(plan: Plan, host: string): PlannedAccessory[] {
  const name = hostName(host);
  return plan.accessories.filter((a) => a.hosts.includes(host) || a.hosts.includes(name));
}

function fileBytes(acc: PlannedAccessory, index: number): Buffer {
  const file = acc.files[index]!;
  const where = `accessories/${acc.name}/files/${index}: ${file.local}`;
  const path = file.path ?? file.local;
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new ConfigError(`${where} is not a file (Berth uploads single files; list each file of a directory)`);
    size = stat.size;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${where}: no such file`, 'paths are relative to the app directory, as in Kamal');
  }
  if (size > ACCESSORY_FILE_MAX_BYTES) throw new ConfigError(`${where} is ${size} bytes; an accessory file may have at most ${ACCESSORY_FILE_MAX_BYTES}`, 'mount larger data with directories or volumes');
  const bytes = readFileSync(path);
  if (!bytes.equals(Buffer.from(bytes.toString('utf8'), 'utf8'))) throw new ConfigError(`${where} is not UTF-8 text; accessory files travel as text`);
  return bytes;
}

/**
 * Throws the ConfigError a push would meet for accessory files before any server
 * is contacted; warns about accessories placed on hosts a push never reaches.
 */
export function checkAccessoryInputs(plan: Plan): string[] {
  const reached = new Set(plan.roles.flatMap((r) => r.hosts.flatMap((h) => [h.host, hostName(h.host)])));
  const warnings: string[] = [];
  for (const acc of plan.accessories) {
    acc.files.forEach((_, i) => fileBytes(acc, i));
    for (const host of acc.hosts) {
      if (!reached.has(host)) {
        warnings.push(`warning: accessories/${acc.name}: ${host} runs no role of ${plan.service}, so deploy push does not reach it and does not boot ${acc.name} there`);
      }
    }
  }
  return warnings;
}

const resolved = new WeakMap<Plan, Map<string, Promise<string>>>();
const renderedFiles = new WeakMap<Plan, Map<string, Promise<string>>>();

/** A file's content: as read, or rendered once per push when it is ERB (Kamal renders `*.erb` files). */
function fileContent(config: DeployConfig, plan: Plan, acc: PlannedAccessory, index: number, s: Sealing, processEnv: Readonly<Record<string, string | undefined>>): Promise<string> {
  const file = acc.files[index]!;
  const text = fileBytes(acc, index).toString('utf8');
  if (file.erbIn === undefined) return Promise.resolve(text);
  let cache = renderedFiles.get(plan);
  if (!cache) renderedFiles.set(plan, (cache = new Map()));
  const key = `${acc.name}\0${index}`;
  let content = cache.get(key);
  if (!content) {
    const env: Record<string, string> = { ...acc.env.clear };
    for (const [name, secretName] of Object.entries(acc.env.secretNames)) env[name] = s.secret(secretName);
    const label = `accessories/${acc.name}/files/${index}: ${file.local}`;
    content = renderAccessoryFile({ label: file.local, text, appDir: file.erbIn, destination: config.destination, processEnv, env, maxBytes: ACCESSORY_FILE_MAX_BYTES }).then((out) => {
      if (Buffer.byteLength(out) > ACCESSORY_FILE_MAX_BYTES) throw new ConfigError(`${label} renders to more than ${ACCESSORY_FILE_MAX_BYTES} bytes; an accessory file may have at most that`);
      return out;
    });
    cache.set(key, content);
  }
  return content;
}

/** repo@sha256 for an accessory image: the app's login only on the app's registry, else anonymous. */
function accessoryImage(plan: Plan, image: string, login: Sealing['registry']): Promise<string> {
  let cache = resolved.get(plan);
  if (!cache) resolved.set(plan, (cache = new Map()));
  let digest = cache.get(image);
  if (!digest) {
    const ref = parseImageReference(image);
    const credentials = login && sameRegistry(login.server, imageRegistry(image)) ? { username: login.username, password: login.password } : undefined;
    digest = resolveImageDigest(ref, credentials).then((d) => pinnedImage(ref, d));
    cache.set(image, digest);
  }
  return digest;
}

/** `images`: accessory name → repo@sha256 already resolved; the others are looked up here. */
export async function manifestAccessories(config: DeployConfig, plan: Plan, host: string, s: Sealing, images: Readonly<Record<string, string>> = {}, processEnv: Readonly<Record<string, string | undefined>> = process.env): Promise<ManifestAccessories | undefined> {
  const placed = accessoriesOnHost(plan, host);
  if (placed.length === 0) return undefined;
  const out: ManifestAccessories = {};
  for (const acc of placed) {
    const where = { service: config.service, destination: config.destination, accessory: acc.name };
    const secret: Record<string, string> = {};
    for (const [name, secretName] of Object.entries(acc.env.secretNames)) secret[name] = await s.seal(s.secret(secretName), { use: 'accessory-env', ...where, name });
    const files: ManifestAccessories[string]['files'] = [];
    for (const [i, file] of acc.files.entries()) {
      const content = await s.seal(await fileContent(config, plan, acc, i, s, processEnv), { use: 'accessory-file', ...where, target: file.remote });
      if (content.length > ACCESSORY_FILE_MAX_CHARS) throw new ConfigError(`accessories/${acc.name}/files/${i}: ${file.local} is too large once sealed (${content.length} characters, at most ${ACCESSORY_FILE_MAX_CHARS})`);
      files.push({ target: file.remote, content, mode: file.mode, ...(file.owner ? { owner: file.owner } : {}) });
    }
    out[acc.name] = {
      image: images[acc.name] ?? (await accessoryImage(plan, acc.image, s.registry)),
      ...(acc.cmd ? { cmd: [...acc.cmd] } : {}),
      ...(acc.port ? { port: acc.port } : {}),
      env: { clear: { ...acc.env.clear }, secret },
      files,
      directories: acc.directories.map((d) => ({ source: d.source, target: d.target })),
      ...(acc.volumes.length > 0 ? { volumes: [...acc.volumes] } : {}),
      ...(Object.keys(acc.options).length > 0 ? { options: { ...acc.options } } : {}),
      ...(Object.keys(acc.labels).length > 0 ? { labels: { ...acc.labels } } : {}),
    };
  }
  return out;
}
