// Signed requests against a real agent process: an unauthenticated client
// cannot make the agent read (buffer, hash) a request body, and one that sends
// junk cannot lock out a valid operator behind the same address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { setupApp, type E2eApp } from '../support/e2e-app.js';
import { agentId, loadKey, pinnedTls, rawRequest, signedRequest, type OperatorKey } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';
import { signRequest } from '../../shared/request-token.js';
import { generateOperatorKey } from '../../shared/keys.js';

const BODY_BYTES = 256 * 1024;
const FLOOD_REQUESTS = 1000;
const FLOOD_CONCURRENCY = 128;
/** Distinct source addresses, so a per-address connection cap is not what is measured. */
const FLOOD_SOURCES = 32;
/** How far the agent's RSS may rise above its idle value during the flood. */
const RSS_RISE_BOUND_MIB = 64;

let e: E2eApp;
let key: OperatorKey;
let aud: string;

before(async () => {
  e = await setupApp('reqauth');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
});
after(async () => e?.teardown());

function agentRssKiB(): number {
  const status = readFileSync(`/proc/${e.hosts[0]!.agent!.pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  assert.ok(m, 'VmRSS in /proc/<pid>/status');
  return Number(m[1]);
}

interface Upload {
  /** Resolves with the status once the response head arrives, or the socket error before it. */
  answered: Promise<number | Error>;
  /** Body bytes the client has handed to the socket so far. */
  sent(): number;
  destroy(): void;
}

/**
 * POST /v1/releases declaring a BODY_BYTES body; sends `sendBytes` of it (all
 * of it by default) and keeps the request open otherwise.
 */
function upload(tls: ReturnType<typeof pinnedTls>, opts: { localAddress: string; authorization?: string; sendBytes?: number }): Upload {
  const h = e.hosts[0]!;
  let sent = 0;
  const req = https.request({
    host: h.ip, port: h.agentPort, method: 'POST', path: '/v1/releases', agent: false, localAddress: opts.localAddress, ...tls,
    headers: { 'content-type': 'application/json', 'content-length': String(BODY_BYTES), ...(opts.authorization ? { authorization: opts.authorization } : {}) },
  });
  const answered = new Promise<number | Error>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => resolve(err));
  });
  const chunk = Buffer.alloc(16 * 1024, 'x');
  const target = opts.sendBytes ?? BODY_BYTES;
  const pump = () => {
    while (sent < target) {
      sent += chunk.length;
      if (!req.write(chunk)) return void req.once('drain', pump);
    }
    if (target === BODY_BYTES) req.end();
  };
  pump();
  return { answered, sent: () => sent, destroy: () => req.destroy() };
}

/** Starts an upload that sends only 16 KiB of its body; the agent must answer `status` while the rest is unsent. */
async function answeredBeforeBody(status: number, opts: { localAddress: string; authorization?: string }): Promise<void> {
  const u = upload(pinnedTls(e.hosts[0]!), { ...opts, sendBytes: 16 * 1024 });
  try {
    let answer: number | Error | undefined;
    void u.answered.then((r) => (answer = r));
    const got = await waitFor('an answer while the body is still unsent', () => answer, 15_000);
    assert.equal(got, status, `answered ${String(got)}`);
    assert.ok(u.sent() < BODY_BYTES, 'answered before the client finished sending');
  } finally {
    u.destroy();
  }
}

test('an unauthenticated request is answered 401 before its body is sent, so the body is never read', async () => {
  await answeredBeforeBody(401, { localAddress: '127.0.0.11' });
  await answeredBeforeBody(401, { localAddress: '127.0.0.11', authorization: 'Berth junk' });
});

test('a signed request from a key without the scope is answered 403 before its body is sent', async () => {
  const reader = await generateOperatorKey('reader@test');
  await e.hosts[0]!.trust(reader.line, 'read');
  const body = Buffer.alloc(BODY_BYTES, 'x');
  const token = await signRequest({ privateJwk: reader.privateJwk, kid: reader.kid, aud, method: 'POST', pathAndQuery: '/v1/releases', body });
  await answeredBeforeBody(403, { localAddress: '127.0.0.14', authorization: `Berth ${token}` });
});

test(`${FLOOD_REQUESTS} unauthenticated ${BODY_BYTES / 1024} KiB bodies raise the agent's RSS by less than ${RSS_RISE_BOUND_MIB} MiB`, async (t) => {
  const tls = pinnedTls(e.hosts[0]!);
  const idle = agentRssKiB();
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, agentRssKiB())), 25);
  const statuses = new Map<string, number>();
  let next = 0;
  const worker = async (w: number) => {
    while (next < FLOOD_REQUESTS) {
      next += 1;
      const u = upload(tls, { localAddress: `127.0.0.${30 + (w % FLOOD_SOURCES)}`, authorization: 'Berth junk' });
      const r = await u.answered;
      u.destroy();
      const k = r instanceof Error ? (r as NodeJS.ErrnoException).code ?? r.message : String(r);
      statuses.set(k, (statuses.get(k) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, (_, w) => worker(w)));
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, agentRssKiB());
  const rise = (peak - idle) / 1024;
  t.diagnostic(`agent VmRSS idle ${(idle / 1024).toFixed(0)} MiB, peak ${(peak / 1024).toFixed(0)} MiB (+${rise.toFixed(0)}); answers ${JSON.stringify(Object.fromEntries(statuses))}`);
  // The agent closes the connection after its answer; a client still writing
  // its body may see the reset before it reads the answer.
  const refused = ['401', '429', 'EPIPE', 'ECONNRESET'].reduce((n, k) => n + (statuses.get(k) ?? 0), 0);
  assert.equal(refused, FLOOD_REQUESTS, `every request refused: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(rise < RSS_RISE_BOUND_MIB, `RSS rose ${rise.toFixed(0)} MiB (bound ${RSS_RISE_BOUND_MIB})`);
});

test('a signed request whose body does not match its bh is refused, has no effect, and does not spend its token', async () => {
  const path = '/v1/services/reqauth/lock?destination=';
  const signed = JSON.stringify({ message: 'signed message' });
  const token = await signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud, method: 'PUT', pathAndQuery: path, body: signed });
  const opts = { localAddress: '127.0.0.12' };
  const swapped = await rawRequest(e.hosts[0]!, 'PUT', path, JSON.stringify({ message: 'swapped message' }), `Berth ${token}`, opts);
  assert.equal(swapped.status, 401, JSON.stringify(swapped.body));
  assert.match(swapped.body.error.message, /bh does not match the request body/);
  const lock = await signedRequest(e.hosts[0]!, key, aud, 'GET', path, '', opts);
  assert.deepEqual(lock.body, { lock: null }, 'no lock was taken');
  // The token was not treated as authenticated: with the body it signs, it still works once.
  const honest = await rawRequest(e.hosts[0]!, 'PUT', path, signed, `Berth ${token}`, opts);
  assert.equal(honest.status, 200, JSON.stringify(honest.body));
  assert.equal(honest.body.lock.message, 'signed message');
  assert.equal((await signedRequest(e.hosts[0]!, key, aud, 'DELETE', path, '', opts)).status, 200);
});

test('junk from one address cannot lock out a validly signed request from that address', async () => {
  const opts = { localAddress: '127.0.0.13' };
  const statuses: number[] = [];
  for (let i = 0; i < 25; i++) statuses.push((await rawRequest(e.hosts[0]!, 'GET', '/v1/services', '', 'Berth junk', opts)).status);
  assert.equal(statuses.at(-1), 429, `the junk trips the limiter: ${statuses.join(' ')}`);
  const valid = await signedRequest(e.hosts[0]!, key, aud, 'GET', '/v1/services', '', opts);
  assert.equal(valid.status, 200, JSON.stringify(valid.body));
  assert.equal((await rawRequest(e.hosts[0]!, 'GET', '/v1/services', '', 'Berth junk', opts)).status, 429, 'junk stays refused');
});
