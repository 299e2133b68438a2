// Backups against a real engine: the engine fixture with an accessory `db`
// (the test web image, busybox sh) keeping /data, a release whose backups
// cover every kind and failure the tests take, the agent's backup service over
// it (the engine takes before_deploy backups through it, as in the agent),
// a 1 MiB tmpfs as a second backup root, and a signed admin API client.
import { agentTag } from '../../agent/core/containers.js';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../agent/api/app.js';
import { createBackupService, type BackupService, type BackupServiceDeps } from '../../agent/backups/service.js';
import { checkedArchive } from '../../agent/backups/tar.js';
import { guardrailPolicy } from '../../agent/core/guardrails.js';
import { newIdentity } from '../../shared/age.js';
import { generateOperatorKey } from '../../shared/keys.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { signRequest } from '../../shared/request-token.js';
import { seal } from '../../shared/sealing.js';
import { makeIdentity } from './agent-api.js';
import { dockerOk } from './docker-cli.js';
import { startEngineFixture, type EngineFixture } from './engine-fixture.js';

export const SECRET = 'sekr1t-value-42';
const silent = { info() {}, warn() {}, error() {} };

export const dump = (script: string, over: Record<string, unknown> = {}) => ({ kind: 'accessory', accessory: 'db', dump: ['sh', '-c', script], restore: ['sh', '-c', 'cat > /data/x'], ...over });
export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface BackupFixture {
  f: EngineFixture;
  image: string;
  backups: BackupService;
  tmpfs: string;
  volume: string;
  identityFile: string;
  /** Events the notify hook was given. */
  notified: Record<string, unknown>[];
  /** Another service over the same store and engine (an agent restart; `over` replaces deps). */
  service(over?: Partial<BackupServiceDeps>): BackupService;
  /** The next release: every backup below, `extra` added to them, `top` to the manifest. */
  release(extra?: Record<string, unknown>, top?: Record<string, unknown>): Promise<ManifestPayload>;
  ref(backup: string): { service: string; destination: string; backup: string };
  /** The first deploy (it boots the accessory db), then 5000 lines written to its /data/x; returns the deploy's event messages. */
  firstDeploy(): Promise<string[]>;
  api(method: string, path: string, body?: string): Promise<Response>;
  close(): Promise<void>;
}

export async function startBackupFixture(name: string): Promise<BackupFixture> {
  const f = await startEngineFixture(name);
  const image = await f.digestOf('v1');
  const tmpfs = join(f.stateDir, 'small');
  mkdirSync(tmpfs);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tmpfs]);
  const volume = `${f.service}-files`;
  const { recipient, identityFile } = await newIdentity();
  const notified: Record<string, unknown>[] = [];
  const service = (over: Partial<BackupServiceDeps> = {}) => createBackupService({
    store: f.store, docker: f.docker, log: silent, roots: [join(f.stateDir, 'backups'), tmpfs], maxRunning: 8,
    stateDir: f.stateDir, policy: guardrailPolicy({ protect: [f.stateDir], accessoryRoot: join(f.stateDir, 'accessories') }),
    hostname: 'test-host-1', agentId: f.agentId, network: 'berth', sealingPrivateJwk: f.sealingPrivateJwk,
    notify: async (_target, event) => (notified.push(event), 'sent'), checkArchive: checkedArchive, ...over,
  });
  const backups = service();
  await backups.start();
  f.engine = f.restartEngine(undefined, () => ({ backups }));
  let version = 0;
  const fixture: BackupFixture = {
    f, image, backups, tmpfs, volume, identityFile, notified, service,
    async release(extra = {}, top = {}) {
      version += 1;
      const token = await seal(SECRET, f.sealingPublicJwk, { use: 'accessory-env', service: f.service, destination: '', accessory: 'db', name: 'DB_TOKEN' });
      return f.manifest(`r${version}`, image, {
        accessories: { db: { image, env: { clear: {}, secret: { DB_TOKEN: token } }, directories: [{ source: 'data', target: '/data' }] } },
        backups: {
          dump: dump('cat /data/x', { keep: 2 }),
          fail: dump('echo "boom $DB_TOKEN" >&2; exit 3'),
          empty: dump('true'),
          full: dump('head -c 3000000 /dev/urandom', { path: tmpfs, compression: 'gzip' }),
          sealed: dump('cat /data/x', { recipient }),
          files: { kind: 'volume', volume },
          pre: dump('cat /data/x', { before_deploy: true }),
          dir: { kind: 'directory', accessory: 'db', directory: 'data', compression: 'gzip' },
          etc: { kind: 'directory', directory: '/etc' },
          checked: dump('cat /data/x', { verify: ['true'] }),
          slow: dump('sleep 3; echo late', { timeout: 1 }),
          ...extra,
        },
        ...top,
      });
    },
    ref: (backup) => ({ service: f.service, destination: '', backup }),
    async firstDeploy() {
      const d = await f.deploy(await fixture.release());
      if (d.state !== 'DONE') throw new Error(`the first deploy ended ${d.state}: ${d.error ?? ''}`);
      await dockerOk(f.engineHost, ['exec', `${f.service}-db-${agentTag(f.agentId)}`, 'sh', '-c', 'seq 1 5000 > /data/x']);
      return f.store.events(d.id).map((e) => e.message);
    },
    async api(method, path, body = '') {
      const key = await generateOperatorKey('admin@test');
      f.store.keys.add({ kid: key.kid, jwk: key.publicJwk, comment: 'test', scopes: ['admin'] });
      const identity = { ...(await makeIdentity()), agentId: f.agentId };
      const app = buildApp({ store: f.store, identity, log: silent, engine: { run: async () => undefined, removeService: async () => ({ containers: [], routes: 0 }), setMaintenance: async () => null, setPause: async () => null }, docker: f.docker, backups });
      const token = await signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud: f.agentId, method, pathAndQuery: path, body });
      return app.request(path, { method, headers: { authorization: `Berth ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) });
    },
    async close() {
      await backups.stop();
      execFileSync('umount', [tmpfs]);
      await f.close();
      await dockerOk(f.engineHost, ['volume', 'rm', '-f', volume]).catch(() => undefined);
    },
  };
  return fixture;
}
