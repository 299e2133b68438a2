// Moving a tag to another manifest in the same repository, through the
// distribution HTTP API: what a `docker push` of a new build does to a tag.
import { MANIFEST_ACCEPT } from './docker-cli.js';

export { splitImageRef as splitRef } from './env.js';

/** Point `repo:toTag` at the manifest `repo:fromTag` has now; returns the digest. */
export async function retag(registry: string, repo: string, fromTag: string, toTag: string): Promise<string> {
  const src = await fetch(`http://${registry}/v2/${repo}/manifests/${fromTag}`, { headers: { accept: MANIFEST_ACCEPT } });
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
