// Hostile input against a real agent process: each refusal is a clear 4xx and
// leaves the database and the Docker engine exactly as they were.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testEnv } from '../support/env.js';
import { registryDigest } from '../support/docker-cli.js';
import { setupApp, type E2eApp } from '../support/e2e-app.js';
import { splitRef } from '../support/registry.js';
import { agentId, loadKey, rawRequest, signedRequest, type OperatorKey } from '../support/signed-client.js';
import { forgeJws } from '../support/jws-forge.js';
import { signManifest } from '../../shared/manifest-signing.js';
import { signRequest } from '../../shared/request-token.js';
import { openStore } from '../../agent/store/index.js';
import type { ManifestPayload } from '../../shared/manifest.js';

let e: E2eApp;
let key: OperatorKey;
let aud: string;
let digestRef: string;
let lastSeq = 0;

before(async () => {
  e = await setupApp('hostile');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  const env = testEnv();
  const { registry, repo } = splitRef(env.images.v1);
  digestRef = `${registry}/${repo}@${await registryDigest(registry, repo, 'v1')}`;
});

after(async () => e?.teardown());

function payload(over: Partial<ManifestPayload> = {}): ManifestPayload {
  const now = Math.floor(Date.now() / 1000);
  lastSeq = Math.max(Date.now(), lastSeq + 1);
  return {
    apiVersion: 'berth/v1',
    iss: key.kid,
    aud,
    sub: 'hostile',
    iat: now,
    exp: now + 600,
    jti: randomBytes(16).toString('base64url'),
    seq: lastSeq,
    service: 'hostile',
    destination: '',
    version: `v${lastSeq}`,
    image: digestRef,
    roles: {
      web: {
        env: { clear: {}, secret: {} },
        proxy: { hosts: [e.hostHeader], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 5 } },
      },
    },
    deploy_timeout: 20,
    drain_timeout: 5,
    readiness_delay: 1,
    stop_timeout: 5,
    retain_containers: 5,
    ...over,
  } as ManifestPayload;
}

async function post(p: ManifestPayload | string) {
  const manifest = typeof p === 'string' ? p : await signManifest(p, key.privateJwk, key.kid);
  return signedRequest(e.hosts[0]!, key, aud, 'POST', '/v1/releases', JSON.stringify({ manifest }));
}

/** The database (less the request-token jti log, which every authenticated call appends to) and the containers. */
async function observe(): Promise<string> {
  const store = openStore(`${e.hosts[0]!.stateDir}/berth.db`);
  try {
    const { seen_jti: _jtis, ...rest } = store.dump();
    const containers = (await e.containers()).map((c) => `${c.name} ${c.state}`).sort();
    return JSON.stringify({ rest, containers });
  } finally {
    store.close();
  }
}

async function waitFinal(id: number): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const r = await signedRequest(e.hosts[0]!, key, aud, 'GET', `/v1/deploys/${id}`);
    const state = r.body?.deploy?.state;
    if (state === 'DONE' || state === 'REVERTED') return state;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error('deploy did not finish');
}

async function refused(send: () => Promise<{ status: number; body: any }>, status: number, message: RegExp): Promise<void> {
  const before = await observe();
  const r = await send();
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.body?.error?.message ?? '', message);
  assert.equal(await observe(), before, 'nothing changed');
}

test('positive control: a valid signed manifest is accepted and deployed', async () => {
  const r = await post(payload());
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(await waitFinal(r.body.deploy.id), 'DONE');
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});

test('a tampered manifest signature is refused', async () => {
  const jws = await signManifest(payload(), key.privateJwk, key.kid);
  const [h, p, s] = jws.split('.');
  const forged = `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  await refused(() => post(forged), 401, /signature/i);
});

test('a seq not above the last accepted one is refused', async () => {
  await refused(() => post(payload({ seq: 1 })), 409, /seq/i);
});

test('an image by tag instead of digest is refused', async () => {
  // signManifest itself refuses tags, so this one is signed by hand, as a hostile client would.
  const forged = forgeJws({ alg: 'EdDSA', typ: 'berth-release+jwt', kid: key.kid }, payload({ image: e.image('v1') }), {
    ed25519: key.privateJwk,
  });
  await refused(() => post(forged), 400, /digest/i);
});

test('an oversized body is refused before authentication', async () => {
  const big = JSON.stringify({ manifest: 'x'.repeat(300 * 1024) });
  await refused(() => rawRequest(e.hosts[0]!, 'POST', '/v1/releases', big, 'Berth x'), 413, /large|limit/i);
});

test('a replayed request token and a replayed manifest jti are refused, also after an agent restart', async () => {
  const body = JSON.stringify({ manifest: await signManifest(payload(), key.privateJwk, key.kid) });
  const token = await signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud, method: 'POST', pathAndQuery: '/v1/releases', body });
  const first = await rawRequest(e.hosts[0]!, 'POST', '/v1/releases', body, `Berth ${token}`);
  assert.equal(first.status, 202, JSON.stringify(first.body));
  await waitFinal(first.body.deploy.id);

  const h = e.hosts[0]!;
  await h.stop();
  await h.startRouter();
  await h.startAgent();
  await refused(() => rawRequest(h, 'POST', '/v1/releases', body, `Berth ${token}`), 409, /replay|already used/i);

  const accepted = JSON.parse(Buffer.from(JSON.parse(body).manifest.split('.')[1], 'base64url').toString());
  await refused(() => post(payload({ jti: accepted.jti })), 409, /replay|already used/i);
});
