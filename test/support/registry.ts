// Registry operations tests need beyond what the harness provides: moving a tag
// to another manifest in the same repository, through the distribution HTTP API.
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** Point `repo:toTag` at the manifest `repo:fromTag` has now; returns the digest. */
export async function retag(registry: string, repo: string, fromTag: string, toTag: string): Promise<string> {
  const src = await fetch(`http://${registry}/v2/${repo}/manifests/${fromTag}`, { headers: { accept: MANIFEST_TYPES } });
  if (!src.ok) throw new Error(`GET manifest ${repo}:${fromTag}: HTTP ${src.status}`);
  const type = src.headers.get('content-type') ?? 'application/vnd.docker.distribution.manifest.v2+json';
  const body = Buffer.from(await src.arrayBuffer());
  const put = await fetch(`http://${registry}/v2/${repo}/manifests/${toTag}`, {
    method: 'PUT',
    headers: { 'content-type': type },
    body,
  });
  if (put.status !== 201) throw new Error(`PUT manifest ${repo}:${toTag}: HTTP ${put.status} ${await put.text()}`);
  return put.headers.get('docker-content-digest') ?? '';
}

/** Split `127.0.0.1:5000/berth-test/web:v1` into registry, repository and tag. */
export function splitRef(ref: string): { registry: string; repo: string; tag: string } {
  const slash = ref.indexOf('/');
  const registry = ref.slice(0, slash);
  const rest = ref.slice(slash + 1);
  const colon = rest.lastIndexOf(':');
  return { registry, repo: rest.slice(0, colon), tag: rest.slice(colon + 1) };
}
