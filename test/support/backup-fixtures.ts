// Stored backups without the taking side: a file written under the fixture's
// state dir (compressed, as the agent stores it) and its row made through the
// store's own calls; and the restore API over an engine fixture (buildApp,
// app.request) with an admin key of its own.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { join as joinPath } from 'node:path';
import type { BackupService } from '../../agent/backups/service.js';
import { createBusy } from '../../agent/backups/busy.js';
import { buildApp } from '../../agent/api/app.js';
import type { AccessoryDeps } from '../../agent/accessories/service.js';
import { compressStream } from '../../agent/backups/compression.js';
import { guardrailPolicy } from '../../agent/core/guardrails.js';
import type { AgentIdentity } from '../../agent/identity.js';
import type { BackupRecord } from '../../shared/api-types.js';
import { generateOperatorKey } from '../../shared/keys.js';
import type { BackupCompression, BackupKind } from '../../shared/manifest-backups.js';
import { signRequest } from '../../shared/request-token.js';
import type { EngineFixture } from './engine-fixture.js';

export async function compressed(data: Buffer, kind: BackupCompression = 'zstd'): Promise<Buffer> {
  return buffer(Readable.from([data]).pipe(compressStream(kind)));
}

export interface StoreOptions {
  backup: string;
  kind: BackupKind;
  compression?: BackupCompression;
  /** Recorded as encrypted to this recipient: the file stored is then `stored`, the plaintext `plain`. */
  recipient?: string;
  stored?: Buffer;
}

/** Writes a backup file holding `raw` (compressed) and its row; returns the record and the file path. */
export async function storeBackup(f: EngineFixture, raw: Buffer, o: StoreOptions): Promise<{ record: BackupRecord; file: string; plain: Buffer }> {
  const compression = o.compression ?? 'zstd';
  const plain = await compressed(raw, compression);
  const bytes = o.stored ?? plain;
  const dir = join(f.stateDir, 'backups', f.service, o.backup);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${Date.now()}-${randomBytes(3).toString('hex')}.tar.zst`);
  await writeFile(file, bytes, { mode: 0o600 });
  const started = f.store.backups.start({
    service: f.service, destination: '', backup: o.backup, kind: o.kind, trigger: 'manual', compression,
    recipient: o.recipient ?? null, release: null, forRelease: null, image: null,
  });
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const record = f.store.backups.finish(started.id, {
    outcome: 'ok', reason: '', file, size: bytes.length, rawSize: raw.length, sha256: sha(bytes), plainSha256: sha(plain), verify: null, verifyOutput: '',
  }) as BackupRecord;
  return { record, file, plain };
}

export function accessoryDeps(f: EngineFixture): AccessoryDeps {
  return {
    docker: f.docker, stateDir: f.stateDir, network: 'berth', networkSubnet: '10.0.0.0/8', sealingPrivateJwk: f.sealingPrivateJwk,
    policy: guardrailPolicy({ protect: [f.stateDir], accessoryRoot: joinPath(f.stateDir, 'accessories') }),
  };
}

export interface Answer {
  status: number;
  /** NDJSON lines, or the JSON body as one line. */
  lines: Array<Record<string, unknown>>;
}

export interface RestoreApi {
  /** `sign` overrides what the token covers (a token for another body). */
  call(method: string, path: string, body: string | Buffer, sign?: { body?: string | Buffer; authorization?: string }): Promise<Answer>;
  /** A token, to replay it. */
  token(method: string, path: string, body: string | Buffer): Promise<string>;
}

export async function restoreApi(f: EngineFixture): Promise<RestoreApi> {
  const key = await generateOperatorKey('admin@test');
  f.store.keys.add({ kid: key.kid, jwk: key.publicJwk, comment: 'test', scopes: ['admin'] });
  const identity = { agentId: f.agentId, sealingPrivateJwk: f.sealingPrivateJwk, sealingPublicJwk: f.sealingPublicJwk } as AgentIdentity;
  const app = buildApp({
    store: f.store, identity, log: { info() {}, warn() {}, error() {} },
    engine: { run: async () => undefined, setMaintenance: async () => { throw new Error('unused'); }, setPause: async () => { throw new Error('unused'); }, removeService: async () => { throw new Error('unused'); } },
    docker: f.docker, accessories: accessoryDeps(f),
    // The restore routes need only the agent's busy registry of the backup service; taking backups is test/support/backup-fixture.ts's.
    backups: { busy: createBusy() } as unknown as BackupService,
  } as Parameters<typeof buildApp>[0]);
  const token = (method: string, path: string, body: string | Buffer) =>
    signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud: f.agentId, method, pathAndQuery: path, body });
  return {
    token,
    async call(method, path, body, sign = {}) {
      const authorization = sign.authorization ?? `Berth ${await token(method, path, sign.body ?? body)}`;
      const res = await app.request(path, { method, headers: { authorization, 'content-type': method === 'PUT' ? 'application/octet-stream' : 'application/json' }, body });
      const text = await res.text();
      const lines = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      return { status: res.status, lines };
    },
  };
}
