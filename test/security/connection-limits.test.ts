// Idle connections cannot exhaust the agent's or the router's file descriptors:
// each server caps connections per client address and in total, closes a
// connection that has not sent a whole request head in time, and the agent
// keeps reaching Docker, its database and the router while at its cap.
// Real agent and router processes (small caps through their options), a real
// Docker engine; attackers connect from their own loopback source addresses.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { BerthHost } from '../support/berth-host.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { testEnv } from '../support/env.js';
import { agentId, loadKey, type OperatorKey } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';
import { signRequest } from '../../shared/request-token.js';

const TOTAL = 16;
const PER_ADDRESS = 6;

let e: E2eApp;
let host: BerthHost;
let key: OperatorKey;
let aud: string;
let deployed = false;

/** The app is live (each test can run alone: the first test deploys it under attack). */
async function deploy(): Promise<void> {
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  deployed = true;
}

before(async () => {
  e = await setupApp('connlimit', {
    agentEnv: { BERTH_MAX_CONNECTIONS: String(TOTAL), BERTH_MAX_CONNECTIONS_PER_IP: String(PER_ADDRESS) },
    routerEnv: { BERTH_ROUTER_MAX_CONNECTIONS: String(TOTAL), BERTH_ROUTER_MAX_CONNECTIONS_PER_IP: String(PER_ADDRESS) },
  });
  host = e.hosts[0]!;
  key = loadKey(e.app.keyFile);
  aud = await agentId(host);
});

after(async () => e?.teardown());

interface Held {
  sockets: net.Socket[];
  /** Connections the server has closed so far. */
  closed(): number;
  release(): void;
}

/**
 * `n` idle connections from source address `from`: TCP only, or with the TLS
 * handshake done. Resolves once every one is either established or closed.
 */
async function hold(port: number, from: string, n: number, withTls: boolean): Promise<Held> {
  let closed = 0;
  const sockets = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<net.Socket>((resolve) => {
        const opts = { host: host.ip, port, localAddress: from };
        const s: net.Socket = withTls ? tls.connect({ ...opts, rejectUnauthorized: false }) : net.connect(opts);
        s.on('error', () => undefined);
        // Read whatever comes, or a paused socket never reports the server's close.
        s.resume();
        s.once(withTls ? 'secureConnect' : 'connect', () => resolve(s));
        s.once('close', () => {
          closed += 1;
          resolve(s);
        });
      }),
    ),
  );
  return { sockets, closed: () => closed, release: () => sockets.forEach((s) => s.destroy()) };
}

/** Waits until `expected` of the held connections were closed by the server, then checks no more were. */
async function expectClosed(held: Held, expected: number, what: string): Promise<void> {
  await waitFor(`${expected} ${what} connection(s) closed by the server`, () => held.closed() >= expected, 15_000, {
    explain: () => `closed ${held.closed()}\n${host.agentLog()}`,
  });
  assert.equal(held.closed(), expected, `${what}: exactly the connections over the cap are closed`);
}

/** A signed GET on a kept-alive connection (the https agent holds one socket). */
async function signedGet(agent: https.Agent, path: string): Promise<{ status: number; body: any; reused: boolean }> {
  const token = await signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud, method: 'GET', pathAndQuery: path, body: '' });
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: host.ip, port: host.agentPort, path, agent, rejectUnauthorized: false, headers: { authorization: `Berth ${token}` } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function routerGet(agent: http.Agent): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: host.ip, port: host.httpPort, path: '/', headers: { host: e.hostHeader }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });
}

test('one client address cannot hold more than its share of connections; a deploy from elsewhere succeeds and the router serves', async () => {
  const atAgent = await hold(host.agentPort, '127.0.0.3', PER_ADDRESS + 4, true);
  const atRouter = await hold(host.httpPort, '127.0.0.3', PER_ADDRESS + 4, false);
  try {
    await expectClosed(atAgent, 4, 'agent');
    await expectClosed(atRouter, 4, 'router');
    await deploy();
    const page = await host.get(e.hostHeader);
    assert.equal(page.status, 200, page.body);
    assert.equal(atAgent.closed(), 4, 'the held agent connections are still open');
  } finally {
    atAgent.release();
    atRouter.release();
  }
});

test('at its total cap the agent still reaches Docker and its database, and the router still reaches the app', async () => {
  const api = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const web = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const flood: Held[] = [];
  if (!deployed) await deploy();
  try {
    // The operator's and the visitor's connections exist before the flood.
    assert.equal((await signedGet(api, '/v1/services/connlimit')).status, 200);
    assert.equal((await routerGet(web)).status, 200);
    for (const from of ['127.0.0.10', '127.0.0.11', '127.0.0.12']) {
      flood.push(await hold(host.agentPort, from, PER_ADDRESS, true));
      flood.push(await hold(host.httpPort, from, PER_ADDRESS, false));
    }
    const agentFlood = flood.filter((_, i) => i % 2 === 0);
    const routerFlood = flood.filter((_, i) => i % 2 === 1);
    const closed = (held: Held[]): number => held.reduce((n, h) => n + h.closed(), 0);
    // 18 tried at each server, one slot taken by the connection made before
    // (connections of the previous test may still be closing: at least this many).
    const over = 3 * PER_ADDRESS - (TOTAL - 1);
    await waitFor('the floods over the total caps closed', () => closed(agentFlood) >= over && closed(routerFlood) >= over);
    assert.ok(3 * PER_ADDRESS - closed(agentFlood) <= TOTAL - 1, `agent: ${3 * PER_ADDRESS - closed(agentFlood)} flood connections held`);
    assert.ok(3 * PER_ADDRESS - closed(routerFlood) <= TOTAL - 1, `router: ${3 * PER_ADDRESS - closed(routerFlood)} flood connections held`);

    const detail = await signedGet(api, '/v1/services/connlimit');
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    assert.ok(detail.reused, 'answered on the connection made before the flood');
    assert.ok(detail.body.service.containers.length > 0, 'the agent listed the containers from Docker');
    const page = await routerGet(web);
    assert.equal(page.status, 200, page.body);
    assert.ok(page.reused);
  } finally {
    flood.forEach((h) => h.release());
    api.destroy();
    web.destroy();
  }
  // Slots come back once the flood is gone.
  await waitFor('a new connection is served again', async () => (await host.get(e.hostHeader).catch(() => ({ status: 0 }))).status === 200);
});

test('a connection that never completes its request head is closed by the server within the header timeout', async () => {
  const quick = new BerthHost({ ip: '127.0.0.2', engine: testEnv().engines[0]! });
  try {
    await quick.start({ BERTH_HEADER_TIMEOUT: '2' }, { BERTH_ROUTER_HEADER_TIMEOUT: '2' });
    const sockets: Array<{ what: string; socket: net.Socket; closed: boolean }> = [];
    const watch = (what: string, socket: net.Socket): void => {
      const entry = { what, socket, closed: false };
      socket.on('error', () => undefined);
      socket.resume();
      socket.once('close', () => (entry.closed = true));
      sockets.push(entry);
    };
    const partialHead = 'GET / HTTP/1.1\r\nHost: x\r\n';
    watch('agent: TCP, no TLS handshake', net.connect({ host: quick.ip, port: quick.agentPort }));
    const secured = tls.connect({ host: quick.ip, port: quick.agentPort, rejectUnauthorized: false });
    secured.once('secureConnect', () => secured.write(partialHead));
    watch('agent: TLS, half a request head', secured);
    watch('router: nothing sent', net.connect({ host: quick.ip, port: quick.httpPort }));
    const slow = net.connect({ host: quick.ip, port: quick.httpPort }, () => slow.write(partialHead));
    watch('router: half a request head', slow);
    await waitFor('every unfinished connection closed by the server', () => sockets.every((s) => s.closed), 10_000, {
      explain: () => `${sockets.filter((s) => !s.closed).map((s) => `still open: ${s.what}`).join('\n')}\n${quick.router?.output()}\n${quick.agentLog()}`,
    });
    // Positive control: complete requests are answered.
    assert.equal((await quick.get('nobody.test')).status, 503);
  } finally {
    await quick.stop();
    quick.cleanup();
  }
});
