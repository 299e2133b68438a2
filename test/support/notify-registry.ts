// A private CNCF distribution registry for one test file (or bench row),
// started beside the shared one: its own port and storage, and, once the
// test knows where to send them, real `notifications:` to a Berth webhook
// URL. Restarting keeps the storage, as an operator adding a notification
// endpoint to a running registry would.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MANIFEST_ACCEPT } from './docker-cli.js';
import { freePort, spawnProcess, type SpawnedProcess } from './processes.js';

export interface NotifyTarget {
  url: string;
  /** Sent as the endpoint's Authorization header: the `distribution:` source's secret. */
  authorization: string;
}

/** The `notifications:` block Berth's docs recommend (retries bounded, short timeout). */
export function notificationsConfig(target: NotifyTarget): string[] {
  return [
    'notifications:',
    '  endpoints:',
    '    - name: berth',
    `      url: ${target.url}`,
    '      headers:',
    `        Authorization: [${JSON.stringify(target.authorization)}]`,
    '      timeout: 2s',
    '      threshold: 3',
    '      backoff: 1s',
  ];
}

export class NotifyRegistry {
  readonly dir = mkdtempSync(join(tmpdir(), 'berth-notify-registry-'));
  address = '';
  private proc: SpawnedProcess | undefined;

  /** (Re)starts the registry on its port, notifying `target` when given. */
  async start(target?: NotifyTarget): Promise<void> {
    await this.stop();
    if (!this.address) this.address = `127.0.0.1:${await freePort()}`;
    const config = join(this.dir, 'config.yml');
    writeFileSync(config, [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(this.dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      ...(target ? notificationsConfig(target) : []),
      'http:',
      `  addr: ${this.address}`,
      '',
    ].join('\n'), { mode: 0o600 });
    const proc = spawnProcess('docker-registry', ['serve', config]);
    this.proc = proc;
    await proc.waitForUrl(`http://${this.address}/v2/`, { status: 200 });
  }

  log(): string {
    return this.proc?.output().slice(-4000) ?? '';
  }

  async stop(): Promise<void> {
    await this.proc?.kill();
    this.proc = undefined;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Copies `from`/`repo:tag` (a plain-HTTP registry) to `to`/`toRepo:toTag`
 * through the distribution API: blobs first, then the manifest, so the
 * manifest PUT is the one moment the tag moves. Returns the pushed digest.
 */
export async function copyImage(from: string, repo: string, tag: string, to: string, toRepo: string, toTag: string): Promise<string> {
  const src = await fetch(`http://${from}/v2/${repo}/manifests/${tag}`, { headers: { accept: MANIFEST_ACCEPT } });
  if (!src.ok) throw new Error(`GET manifest ${repo}:${tag}: HTTP ${src.status}`);
  const type = src.headers.get('content-type') ?? 'application/vnd.docker.distribution.manifest.v2+json';
  const body = Buffer.from(await src.arrayBuffer());
  const manifest = JSON.parse(body.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const digest of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
    const have = await fetch(`http://${to}/v2/${toRepo}/blobs/${digest}`, { method: 'HEAD' });
    if (have.ok) continue;
    const blob = await fetch(`http://${from}/v2/${repo}/blobs/${digest}`);
    if (!blob.ok) throw new Error(`GET blob ${digest}: HTTP ${blob.status}`);
    const bytes = Buffer.from(await blob.arrayBuffer());
    const start = await fetch(`http://${to}/v2/${toRepo}/blobs/uploads/`, { method: 'POST' });
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (start.status !== 202 || !location) throw new Error(`POST blob upload: HTTP ${start.status}`);
    const url = new URL(location, `http://${to}`);
    url.searchParams.set('digest', digest);
    const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    if (put.status !== 201) throw new Error(`PUT blob ${digest}: HTTP ${put.status} ${await put.text()}`);
  }
  const put = await fetch(`http://${to}/v2/${toRepo}/manifests/${toTag}`, { method: 'PUT', headers: { 'content-type': type }, body });
  if (put.status !== 201) throw new Error(`PUT manifest ${toRepo}:${toTag}: HTTP ${put.status} ${await put.text()}`);
  return put.headers.get('docker-content-digest') ?? '';
}
