// A Kamal app whose .kamal/secrets reads its secrets with Kamal's own helpers,
// `$(kamal secrets fetch --adapter 1password …)` and `$(kamal secrets extract …)`,
// on a machine without Kamal: Berth runs them built in, calling a stand-in `op`
// (first on PATH) with Kamal's arguments. The fetched values reach the
// registry login and the container's env, and appear nowhere in the output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { testEnv } from '../support/env.js';
import { containersByLabel, docker } from '../support/docker-cli.js';
import { BerthHost } from '../support/berth-host.js';
import { AppDir } from '../support/deploy-cli.js';
import { standIn } from '../support/vendor-cli.js';

const env = testEnv();
const reg = env.authRegistry;
const SERVICE = 'kamalsecrets';
const HOST = 'kamalsecrets.test';
// Unique per run, so finding it anywhere is proof of a leak, not a coincidence.
const SECRET = `op-s3cr3t-${randomBytes(12).toString('hex')}`;
let server: BerthHost;
let app: AppDir;
let op: ReturnType<typeof standIn>;

const field = (label: string, value: string) => ({ id: 'a', section: { id: 'c', label: 'deploy' }, type: 'CONCEALED', label, value, reference: `op://Production/myapp/deploy/${label}` });

before(async () => {
  server = new BerthHost({ ip: '127.0.0.2', engine: env.engines[0]! });
  await server.start();
  app = new AppDir('kamal-secrets');
  const keys = await app.run(['keys', 'new']);
  assert.equal(keys.code, 0, keys.stderr);
  await server.trust(keys.stdout.trim());
  mkdirSync(join(app.dir, 'config'));
  writeFileSync(
    join(app.dir, 'config/deploy.yml'),
    `service: ${SERVICE}
image: berth-test/web:v1
servers:
  web:
    - ${server.server}
proxy:
  host: ${HOST}
  app_port: 80
  healthcheck:
    path: /up
registry:
  server: ${reg.address}
  username: ${reg.username}
  password:
    - KAMAL_REGISTRY_PASSWORD
env:
  secret:
    - DB_PASSWORD
deploy_timeout: 20
`,
  );
  mkdirSync(join(app.dir, '.kamal'));
  // As Kamal's own template writes it (Option 3), with a section in the item.
  writeFileSync(
    join(app.dir, '.kamal/secrets'),
    [
      'SECRETS=$(kamal secrets fetch --adapter 1password --account my-account --from Production/myapp deploy/KAMAL_REGISTRY_PASSWORD deploy/DB_PASSWORD)',
      'KAMAL_REGISTRY_PASSWORD=$(kamal secrets extract KAMAL_REGISTRY_PASSWORD $SECRETS)',
      'DB_PASSWORD=$(kamal secrets extract DB_PASSWORD ${SECRETS})',
      '',
    ].join('\n'),
  );
  op = standIn(join(app.dir, 'bin'), 'op', [
    { args: ['--version'], stdout: '2.30.0\n' },
    { args: ['account', 'get', '--account', 'my-account'], stdout: '{}' },
    {
      args: ['item', 'get', 'myapp', '--vault', 'Production', '--format', 'json', '--account', 'my-account', '--fields', 'label=deploy.KAMAL_REGISTRY_PASSWORD,label=deploy.DB_PASSWORD'],
      stdout: JSON.stringify([field('KAMAL_REGISTRY_PASSWORD', reg.password), field('DB_PASSWORD', SECRET)]),
      stderr: `debug: ${SECRET}\n`,
    },
  ]);
  const add = await app.run(['server', 'add', server.server]);
  assert.equal(add.code, 0, add.stderr);
});

after(async () => {
  await server.stop();
  for (const c of await containersByLabel(server.engine.host, `berth.service=${SERVICE}`)) await docker(server.engine.host, ['rm', '-f', c.name]);
  server.cleanup();
  app.cleanup();
});

const withOp = () => ({ PATH: `${join(app.dir, 'bin')}:${process.env.PATH ?? ''}` });

test('secrets fetched with `kamal secrets fetch/extract` (1Password, no Kamal installed) log in to the registry and reach the container', async () => {
  const r = await app.run(['push', '--version', 'o1'], { env: withOp() });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${server.agentLog()}`);
  assert.equal((await server.get(HOST, '/cgi-bin/env?DB_PASSWORD')).body, `${SECRET}\n`, 'the secret is inside the container');
  assert.ok(op.calls().some((c) => c.args[0] === 'item'), 'op was asked for the item');
  for (const text of [r.stdout, r.stderr, server.agentLog()]) {
    assert.ok(!text.includes(SECRET), 'the secret leaked into the output');
    assert.ok(!text.includes(reg.password), 'the registry password leaked into the output');
  }
});

test('without op on PATH the push stops before any server, naming the CLI, the adapter and the line', async () => {
  const r = await app.run(['push', '--version', 'o2'], { env: { PATH: process.env.PATH ?? '' } });
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /\.kamal\/secrets:1: `kamal secrets fetch`: 1Password CLI is not installed: op is not on PATH/);
  const running = (await containersByLabel(server.engine.host, `berth.service=${SERVICE}`)).map((c) => c.name);
  assert.ok(!running.some((n) => n.includes('o2')), 'nothing of o2 was deployed');
});
