// Docker image references ("nginx", "ghcr.io/acme/web:v1", "127.0.0.1:5000/x/y@sha256:…")
// parsed by the same rules as the Docker CLI, so a name means here what it means to docker.

import { UserError } from './errors.js';

export interface ImageReference {
  /** The name as written, without tag or digest: what the agent will pull. */
  name: string;
  /** Host[:port] of the registry's HTTP API (Docker Hub is registry-1.docker.io). */
  registry: string;
  /** Repository path inside the registry (Docker Hub short names get library/). */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

const MAX_NAME_LENGTH = 255;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function invalid(ref: string, why: string): UserError {
  return new UserError(`invalid image reference "${ref.slice(0, 300)}": ${why}`, 'write it like registry.example.com/team/app (a tag or @sha256:… digest is optional)');
}

export function parseImageReference(ref: string): ImageReference {
  if (typeof ref !== 'string' || ref.length === 0) throw invalid(String(ref), 'it is empty');
  if (ref.length > MAX_NAME_LENGTH + 200) throw invalid(ref, 'it is too long');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, 'the digest must be sha256: followed by 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `"${tag.slice(0, 130)}" is not a valid tag`);
  }
  const name = rest;
  if (name.length === 0) throw invalid(ref, 'the name is missing');
  if (name.length > MAX_NAME_LENGTH) throw invalid(ref, `the name is longer than ${MAX_NAME_LENGTH} characters`);

  // Docker's rule: the first component is a registry if it looks like a host.
  const firstSlash = name.indexOf('/');
  const first = firstSlash === -1 ? '' : name.slice(0, firstSlash);
  const hasDomain = first !== '' && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  const domain = hasDomain ? first : 'docker.io';
  let path = hasDomain ? name.slice(firstSlash + 1) : name;
  if (!DOMAIN.test(domain)) throw invalid(ref, `"${domain}" is not a valid registry host`);
  const components = path.split('/');
  if (components.some((c) => !COMPONENT.test(c))) {
    throw invalid(ref, 'repository names use lowercase letters, digits and separators (. _ __ -) between them');
  }
  const isHub = DOCKER_HUB.has(domain.toLowerCase());
  if (isHub && components.length === 1) path = `library/${path}`;
  return {
    name,
    registry: isHub ? 'registry-1.docker.io' : domain,
    repository: path,
    tag: tag ?? (digest ? undefined : 'latest'),
    digest,
  };
}

/** What goes in the manifest: the name as written, pinned by digest. */
export function pinnedImage(ref: ImageReference, digest: string): string {
  return `${ref.name}@${digest}`;
}

export function describeImage(ref: ImageReference): string {
  return ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? 'latest'}`;
}
