// deploy accessory … against two local fake agents (real HTTPS, pinned), A on
// 127.0.0.1 and B on 127.0.0.2 so that accessory placement by host tells them
// apart: db is placed on A's host, cache on the web role (A and B). What each
// server is asked, what is printed, prompts and exit codes.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runAccessoryActionCommand, runAccessoryRemove } from '../../../cli/actions/accessory.js';
import { createPrinter } from '../../../cli/output/printer.js';
import { plainStyle } from '../../../cli/output/style.js';
import type { AccessoryStatus } from '../../../shared/api-types.js';
import { captureStream, cliRunner, tempDir, testEnv, type FakeAgent, type RecordedRequest, startAgentPair } from '../../support/cli-fixtures.js';

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function accessoryStatus(over: Partial<AccessoryStatus> = {}): AccessoryStatus {
  return {
    name: 'db', image: `postgres@sha256:${'ab'.repeat(32)}`, container: 'demo-db-a1b2', state: 'running', port: '127.0.0.1:5432:5432',
    host: 'demo-db', changes: [], directories: ['/var/lib/berth/accessories/demo/db/data'], ...over,
  };
}

interface Modes {
  bDown: boolean;
  /** A's db exists already: boot answers 409 accessory_exists. */
  aDbExists: boolean;
  /** DELETE is refused for a key without admin scope. */
  forbidden: boolean;
}

function routesFor(name: 'A' | 'B', modes: Modes) {
  const names = name === 'A' ? ['db', 'cache'] : ['cache'];
  const status = (n: string) => accessoryStatus({ name: n, container: `demo-${n}-${name.toLowerCase()}`, host: `demo-${n}`, ...(n === 'db' ? { changes: ['image', 'env'] } : { image: `redis@sha256:${'cd'.repeat(32)}`, port: null, directories: [] }) });
  return (req: RecordedRequest, res: ServerResponse) => {
    const { method, url } = req;
    if (name === 'B' && modes.bDown) return reply(res, 503, { error: { code: 'unavailable', message: 'the Docker engine is not answering' } });
    if (method === 'GET' && url === '/v1/services/demo/accessories?destination=') return reply(res, 200, { accessories: names.map(status) });
    const action = /^\/v1\/services\/demo\/accessories\/([a-z]+)\/(boot|reboot|start|stop)\?destination=$/.exec(url);
    if (method === 'POST' && action) {
      const [, acc, verb] = action as unknown as [string, string, string];
      if (!names.includes(acc)) return reply(res, 404, { error: { code: 'not_found', message: `no accessory ${acc} in the current release` } });
      if (verb === 'boot' && acc === 'db' && modes.aDbExists) return reply(res, 409, { error: { code: 'accessory_exists', message: 'accessory db exists' } });
      const changed = verb === 'reboot' ? (acc === 'db' ? ['image', 'env'] : []) : verb === 'boot' ? ['created'] : [];
      return reply(res, 200, { accessory: { ...status(acc), changes: [], state: verb === 'stop' ? 'exited' : 'running' }, changed });
    }
    const del = /^\/v1\/services\/demo\/accessories\/([a-z]+)\?destination=(&purge=1)?$/.exec(url);
    if (method === 'DELETE' && del) {
      if (modes.forbidden) return reply(res, 403, { error: { code: 'forbidden', message: 'this key has deploy scope; this needs admin' } });
      const acc = del[1] as string;
      if (!names.includes(acc)) return reply(res, 404, { error: { code: 'not_found', message: `no accessory ${acc}` } });
      return reply(res, 200, { removed: { container: `demo-${acc}-${name.toLowerCase()}`, purged: del[2] ? [`/var/lib/berth/accessories/demo/${acc}/data`] : [] } });
    }
    if (method === 'GET' && url.startsWith('/v1/services/demo/logs?')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      return res.end(`${JSON.stringify({ t: '2026-12-01T10:00:00.000Z', role: '', release: 'v1', container: `demo-db-${name}`, stream: 'stdout', line: `ready on ${name}` })}\n`);
    }
    if (method === 'POST' && url === '/v1/services/demo/exec?destination=') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ stream: 'stdout', data: `psql on ${name}\n` })}\n`);
      return res.end(`${JSON.stringify({ exit_code: 0 })}\n`);
    }
    reply(res, 404, { error: { code: 'not_found', message: `no route for ${method} ${url}` } });
  };
}

describe('deploy accessory against two agents', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const modes: Modes = { bDown: false, aDbExists: false, forbidden: false };
  let a: FakeAgent;
  let b: FakeAgent;
  let hostA: string;
  let hostB: string;
  const run = cliRunner(dir.path, xdg);
  const sent = () => [...a.requests.map((r) => ({ ...r, agent: 'A' })), ...b.requests.map((r) => ({ ...r, agent: 'B' }))]
    .filter((r) => r.url !== '/v1/identity')
    .map((r) => [r.agent, r.method, r.url, r.body.toString()]);
  const ttyContext = () => {
    const stdout = captureStream();
    const stderr = captureStream();
    return {
      stdout,
      ctx: {
        env: testEnv(dir.path, { xdgConfigHome: xdg, stdinIsTTY: true }),
        printer: createPrinter(stdout.stream, stderr.stream),
        style: plainStyle, json: false, live: false, globals: { json: false, verbose: false, help: false, config: undefined, destination: undefined, key: undefined },
      },
    };
  };

  before(async () => {
    ({ a, b, hostA, hostB } = await startAgentPair(dir.path, run, (name) => routesFor(name, modes), {
      bHost: '127.0.0.2',
      config: (x, y) => [
        'service: demo', 'image: 127.0.0.1:5000/demo:latest',
        'servers:', '  web:', '    hosts:', `      - ${x}`, `      - ${y}`,
        'proxy:', '  host: demo.test',
        'accessories:',
        '  db:', '    image: postgres:16', '    host: 127.0.0.1', '    port: 127.0.0.1:5432:5432', '    directories:', '      - data:/var/lib/postgresql/data',
        '  cache:', '    image: redis:7', '    roles:', '      - web',
        '',
      ].join('\n'),
    }));
  });
  beforeEach(() => {
    Object.assign(modes, { bDown: false, aDbExists: false, forbidden: false });
    a.requests.length = 0;
    b.requests.length = 0;
  });
  after(async () => {
    await a.close();
    await b.close();
    dir.cleanup();
  });

  it('boot NAME: only the servers it is placed on; boot all: each accessory on its own servers', async () => {
    let res = await run(['accessory', 'boot', 'db']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(sent(), [['A', 'POST', '/v1/services/demo/accessories/db/boot?destination=', '{}']]);
    assert.match(res.stdout, new RegExp(`^HOST +ACCESSORY +RESULT +STATE +CHANGED\\n${hostA} +db +booted +running +created\\n$`));
    a.requests.length = 0;
    res = await run(['accessory', 'boot', 'all']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(sent().sort(), [
      ['A', 'POST', '/v1/services/demo/accessories/cache/boot?destination=', '{}'],
      ['A', 'POST', '/v1/services/demo/accessories/db/boot?destination=', '{}'],
      ['B', 'POST', '/v1/services/demo/accessories/cache/boot?destination=', '{}'],
    ]);
    assert.deepEqual(res.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/ +/).slice(0, 3)), [[hostA, 'db', 'booted'], [hostA, 'cache', 'booted'], [hostB, 'cache', 'booted']]);
  });

  it('boot of one that exists is shown, not a failure; a server that fails makes the exit 1', async () => {
    modes.aDbExists = true;
    let res = await run(['accessory', 'boot', 'db']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`${hostA} +db +already booted +- +- \\(deploy accessory reboot db replaces it\\)`));
    modes.bDown = true;
    res = await run(['accessory', 'start', 'cache']);
    assert.equal(res.code, 1);
    assert.match(res.stdout, new RegExp(`${hostA} +cache +started +running`));
    assert.match(res.stdout, new RegExp(`${hostB} +cache +error: .*Docker engine is not answering`));
    assert.match(res.stderr, /error: .*Docker engine is not answering/);
  });

  it('an unknown NAME is a usage error listing the accessories; no server is asked', async () => {
    for (const argv of [['accessory', 'boot', 'redis'], ['accessory', 'logs', 'redis'], ['accessory', 'exec', 'redis', '--', 'ls'], ['accessory', 'details', 'redis']]) {
      const res = await run(argv);
      assert.equal(res.code, 2, argv.join(' '));
      assert.match(res.stderr, /no accessory named "redis" in deploy.yml \(accessories: db, cache\)/);
    }
    assert.deepEqual(sent(), []);
  });

  it('remove of a NAME deploy.yml no longer has asks every server (taken out of the config, it keeps running until removed)', async () => {
    const res = await run(['accessory', 'remove', 'redis', '-y']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(sent().map(([agent, method, url]) => [agent, method, url]), [
      ['A', 'DELETE', '/v1/services/demo/accessories/redis?destination='],
      ['B', 'DELETE', '/v1/services/demo/accessories/redis?destination='],
    ]);
  });

  it('stop --json: one row per server and accessory', async () => {
    const res = await run(['accessory', 'stop', 'cache', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const json = JSON.parse(res.stdout) as { action: string; accessories: Array<{ host: string; accessory: string; result: { accessory: AccessoryStatus; changed: string[] } }> };
    assert.equal(json.action, 'stop');
    assert.deepEqual(json.accessories.map((r) => [r.host, r.accessory, r.result.accessory.state, r.result.changed]), [[hostA, 'cache', 'exited', []], [hostB, 'cache', 'exited', []]]);
  });

  it('reboot: needs -y off a terminal; prints what changed', async () => {
    let res = await run(['accessory', 'reboot', 'db']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /deploy accessory reboot db needs confirmation\nhint: .*-y \(--confirmed\)/);
    assert.deepEqual(sent(), []);
    res = await run(['accessory', 'reboot', 'db', '-y']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`${hostA} +db +rebooted +running +image, env`));
    assert.deepEqual(sent(), [['A', 'POST', '/v1/services/demo/accessories/db/reboot?destination=', '{}']]);
  });

  it('reboot on a terminal: asks for the accessory name (the service name for all)', async () => {
    const { ctx, stdout } = ttyContext();
    const questions: string[] = [];
    await assert.rejects(runAccessoryActionCommand(ctx, { action: 'reboot', name: 'db', confirmed: false }, async (q) => (questions.push(q), 'dv')), (e: Error & { code?: string }) => e.code === 'not_confirmed');
    assert.match(questions[0]!, new RegExp(`^This reboots db on ${hostA}: .*data in its directories is kept\\)\\.\\nType the accessory name to confirm: $`));
    assert.deepEqual(sent(), []);
    await runAccessoryActionCommand(ctx, { action: 'reboot', name: 'all', confirmed: false }, async (q) => (questions.push(q), 'demo\n'));
    assert.match(questions[1]!, new RegExp(`This reboots db on ${hostA}; cache on ${hostA}, ${hostB}: .*\\nType the service name to confirm: $`));
    assert.match(stdout.text(), new RegExp(`${hostB} +cache +rebooted +running +nothing changed`));
    assert.equal(sent().length, 3);
  });

  it('remove: confirmation; --purge is said in the prompt and sent as purge=1', async () => {
    const { ctx, stdout } = ttyContext();
    const questions: string[] = [];
    await runAccessoryRemove(ctx, { name: 'db', purge: true, confirmed: false }, async (q) => (questions.push(q), 'db'));
    assert.match(questions[0]!, /DELETES the directories the agent keeps for it \(--purge\): their data is lost\./);
    assert.deepEqual(sent(), [['A', 'DELETE', '/v1/services/demo/accessories/db?destination=&purge=1', '']]);
    assert.match(stdout.text(), new RegExp(`${hostA} +db +removed demo-db-a +/var/lib/berth/accessories/demo/db/data`));
    a.requests.length = 0;
    const res = await run(['accessory', 'remove', 'cache', '-y']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(sent(), [['A', 'DELETE', '/v1/services/demo/accessories/cache?destination=', ''], ['B', 'DELETE', '/v1/services/demo/accessories/cache?destination=', '']]);
    assert.equal((await run(['accessory', 'remove', 'cache'])).code, 2);
  });

  it('remove with a key lacking admin scope: exit 1 saying an admin key is needed', async () => {
    modes.forbidden = true;
    const res = await run(['accessory', 'remove', 'db', '-y']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /this key has deploy scope/);
    assert.match(res.stderr, /hint: removing an accessory needs a key the server trusts with admin scope: pass one with --key FILE/);
  });

  it('details: per server, each accessory placed there with its pending changes', async () => {
    const res = await run(['accessory', 'details']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`^db on ${hostA}\\n  image +postgres@sha256:(ab)+\\n  container +demo-db-a\\n  state +running\\n  port +127\\.0\\.0\\.1:5432:5432\\n  host name +demo-db\\n  changes +reboot to apply: image, env\\n  directories +/var/lib/berth/accessories/demo/db/data\\n\\ncache on ${hostA}\\n`));
    assert.match(res.stdout, new RegExp(`cache on ${hostB}\\n(.*\\n)*  changes +none\\n  directories +-\\n$`));
    const json = JSON.parse((await run(['accessory', 'details', 'db', '--json'])).stdout) as { servers: Array<{ host: string; accessories: AccessoryStatus[] }> };
    assert.deepEqual(json.servers.map((s) => [s.host, s.accessories.map((x) => x.name)]), [[hostA, ['db']]]);
  });

  it('logs NAME: accessory=NAME on its servers only', async () => {
    const res = await run(['accessory', 'logs', 'db', '-n', '5']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${hostA} | ready on A\n`);
    assert.deepEqual(sent(), [['A', 'GET', '/v1/services/demo/logs?destination=&accessory=db&tail=5', '']]);
  });

  it('exec NAME -- CMD: "accessory" in the body instead of a role, on its servers', async () => {
    const res = await run(['accessory', 'exec', 'cache', '--', 'redis-cli', 'ping']);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(res.stdout.includes(`${hostA} | psql on A\n`) && res.stdout.includes(`${hostB} | psql on B\n`), res.stdout);
    assert.deepEqual(sent().map((r) => [r[0], r[3]]).sort(), [['A', '{"cmd":["redis-cli","ping"],"accessory":"cache"}'], ['B', '{"cmd":["redis-cli","ping"],"accessory":"cache"}']]);
  });
});
