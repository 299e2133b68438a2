// A Kamal app as Kamal users have it: config/deploy.yml with two roles, a
// secret env var from .kamal/secrets, and a private registry. Berth deploys it
// unchanged; the secret is inside the container and nowhere else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { testEnv } from '../support/env.js';
import { containersByLabel, docker } from '../support/docker-cli.js';
import { BerthHost } from '../support/berth-host.js';
import { AppDir } from '../support/deploy-cli.js';
import { containerNameOn } from '../support/signed-client.js';

const env = testEnv();
const reg = env.authRegistry;
const SERVICE = 'kamalapp';
const HOST = 'kamalapp.test';
// Unique per run, so finding it anywhere is proof of a leak, not a coincidence.
const SECRET = `s3cr3t-${randomBytes(12).toString('hex')}`;
let server: BerthHost;
let app: AppDir;

function deployYml(): string {
  return `# A Kamal 2 config, unchanged but for the hosts
service: ${SERVICE}
image: berth-test/web:v1

servers:
  web:
    - ${server.server}
  worker:
    hosts:
      - ${server.server}
    cmd: /bin/busybox sh -c "while true; do sleep 1; done"

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
  clear:
    GREETING: hello
  secret:
    - DB_PASSWORD

ssh:
  user: deploy

deploy_timeout: 20
`;
}

before(async () => {
  server = new BerthHost({ ip: '127.0.0.2', engine: env.engines[0]! });
  await server.start();
  app = new AppDir('kamal');
  const keys = await app.run(['keys', 'new']);
  assert.equal(keys.code, 0, keys.stderr);
  await server.trust(keys.stdout.trim());
  mkdirSync(join(app.dir, 'config'));
  writeFileSync(join(app.dir, 'config/deploy.yml'), deployYml());
  mkdirSync(join(app.dir, '.kamal'));
  // Kamal 2's dotenv form: one value from the environment, one from a command.
  writeFileSync(join(app.dir, '.kamal/secrets'), `KAMAL_REGISTRY_PASSWORD=$REGISTRY_PASSWORD\nDB_PASSWORD=$(printf '%s' "$DB_SECRET_SOURCE")\n`);
  const add = await app.run(['server', 'add', server.server]);
  assert.equal(add.code, 0, add.stderr);
});

after(async () => {
  await server.stop();
  for (const c of await containersByLabel(server.engine.host, `berth.service=${SERVICE}`)) await docker(server.engine.host, ['rm', '-f', c.name]);
  server.cleanup();
  app.cleanup();
});

const secretsEnv = () => ({ REGISTRY_PASSWORD: reg.password, DB_SECRET_SOURCE: SECRET });

test('without the secrets the push stops before any server, naming the missing secret and the file', async () => {
  writeFileSync(join(app.dir, '.kamal/secrets'), `KAMAL_REGISTRY_PASSWORD=$REGISTRY_PASSWORD\n`);
  const missing = await app.run(['push', '--version', 'k0'], { env: secretsEnv() });
  writeFileSync(join(app.dir, '.kamal/secrets'), `KAMAL_REGISTRY_PASSWORD=$REGISTRY_PASSWORD\nDB_PASSWORD=$(printf '%s' "$DB_SECRET_SOURCE")\n`);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /DB_PASSWORD/);
  assert.match(missing.stderr, /\.kamal\/secrets/);
  assert.equal((await containersByLabel(server.engine.host, `berth.service=${SERVICE}`)).length, 0, 'nothing was deployed');
});

test('two roles with a secret from a private registry deploy from an unchanged Kamal config', async () => {
  const r = await app.run(['push', '--version', 'k1'], { env: secretsEnv() });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${server.agentLog()}`);
  assert.match(r.stderr, /ssh/, 'the ssh key is accepted with a warning');

  assert.equal((await server.get(HOST)).body, 'v1\n');
  assert.equal((await server.get(HOST, '/cgi-bin/env?GREETING')).body, 'hello\n');
  assert.equal((await server.get(HOST, '/cgi-bin/env?DB_PASSWORD')).body, `${SECRET}\n`, 'the secret is inside the container');
  assert.equal((await server.get(HOST, '/cgi-bin/env?KAMAL_VERSION')).body, 'k1\n');

  const containers = await containersByLabel(server.engine.host, `berth.service=${SERVICE}`);
  const byRole = Object.fromEntries(containers.map((c) => [c.labels['berth.role'], c]));
  assert.equal(byRole.web?.state, 'running');
  assert.equal(byRole.worker?.state, 'running', 'the worker role runs (not proxied)');
  assert.equal(byRole.worker?.name, await containerNameOn(server, SERVICE, 'worker', 'k1'));
});

test('the secret and the registry password appear nowhere but inside the container', async () => {
  const outputs: string[] = [];
  for (const args of [['push', '--version', 'k1'], ['status'], ['config'], ['config', '--json']]) {
    const r = await app.run(args, { env: secretsEnv() });
    // Pushing the running version again is a no-op redeploy: same plaintext secrets, same container.
    assert.equal(r.code, 0, `deploy ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    outputs.push(r.stdout, r.stderr);
  }
  const files = readdirSync(server.stateDir).filter((f) => f.startsWith('berth.db'));
  assert.ok(files.length > 0);
  const db = files.map((f) => readFileSync(join(server.stateDir, f)).toString('latin1')).join('');
  const labels = JSON.stringify((await containersByLabel(server.engine.host, `berth.service=${SERVICE}`)).map((c) => c.labels));
  for (const [what, text] of [['CLI output', outputs.join('\n')], ['agent log', server.agentLog()], ['agent database', db], ['container labels', labels]] as const) {
    assert.ok(!text.includes(SECRET), `the secret leaked into the ${what}`);
    assert.ok(!text.includes(reg.password), `the registry password leaked into the ${what}`);
  }
});

test('-d staging merges config/deploy.staging.yml and reads .kamal/secrets.staging; both destinations serve side by side', async () => {
  writeFileSync(join(app.dir, 'config/deploy.staging.yml'), `proxy:\n  host: staging.${HOST}\nenv:\n  clear:\n    GREETING: hi-staging\n`);
  writeFileSync(join(app.dir, '.kamal/secrets.staging'), `KAMAL_REGISTRY_PASSWORD=$REGISTRY_PASSWORD\nDB_PASSWORD=staging-$(printf '%s' "$DB_SECRET_SOURCE")\n`);
  const r = await app.run(['push', '-d', 'staging', '--version', 's1'], { env: secretsEnv() });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${server.agentLog()}`);

  assert.equal((await server.get(`staging.${HOST}`, '/cgi-bin/env?GREETING')).body, 'hi-staging\n');
  assert.equal((await server.get(`staging.${HOST}`, '/cgi-bin/env?DB_PASSWORD')).body, `staging-${SECRET}\n`);
  assert.equal((await server.get(`staging.${HOST}`, '/cgi-bin/env?KAMAL_DESTINATION')).body, 'staging\n');
  assert.equal((await server.get(HOST, '/cgi-bin/env?GREETING')).body, 'hello\n', 'the destination-less release still serves');
  const names = (await containersByLabel(server.engine.host, `berth.service=${SERVICE}`)).filter((c) => c.state === 'running').map((c) => c.name).sort();
  const expected = await Promise.all([['web', 'k1'], ['web', 's1', 'staging'], ['worker', 'k1'], ['worker', 's1', 'staging']].map(([role, version, dest]) => containerNameOn(server, SERVICE, role!, version!, dest)));
  assert.deepEqual(names, expected);
});
