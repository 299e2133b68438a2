// A Kamal user's command lines against a real agent and registry: the CI line
// `deploy deploy --skip-push --version $SHA` with an untagged image line
// deploys the image of that tag, `deploy rollback SHA` goes back by it, an
// alias of `app exec` runs in the container (also with -i), and the
// `deploy app …` / `deploy lock …` forms reach Berth's commands.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CLI_BIN } from '../support/berth-host.js';
import { spawnProcess } from '../support/processes.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { testEnv } from '../support/env.js';
import { deployYml } from '../support/deploy-cli.js';
import { retag, splitRef } from '../support/registry.js';

let e: E2eApp;
let untagged = '';
const SHA_A = `a${Date.now().toString(16)}0`;
const SHA_B = `b${Date.now().toString(16)}0`;
const digests: Record<string, string> = {};

before(async () => {
  e = await setupApp('kamalforms');
  for (const h of e.hosts) await h.trust(e.keyLine, 'admin');
  // One image repository with two builds under commit-like tags, as CI pushes them.
  const { registry, repo } = splitRef(testEnv().images.v1);
  digests[SHA_A] = await retag(registry, repo, 'v1', SHA_A);
  digests[SHA_B] = await retag(registry, repo, 'v2', SHA_B);
  untagged = `${registry}/${repo}`;
  e.app.writeConfig(deployYml({ service: e.service, image: untagged, servers: e.hosts.map((h) => h.server), host: e.hostHeader }) + [
    'aliases:',
    `  release: app exec --reuse "sh -c 'echo release=\\$BERTH_RELEASE'"`,
    '  shell: app exec -i --reuse sh',
    '  sh2: shell',
    '',
  ].join('\n'));
});
after(async () => {
  await e?.teardown();
});

async function releaseImage(version: string): Promise<string> {
  const r = await e.app.run(['releases', '--json']);
  assert.equal(r.code, 0, explain(r, e));
  const list = JSON.parse(r.stdout).servers[0].releases as Array<{ version: string; image: string }>;
  return list.find((x) => x.version === version)?.image ?? '';
}

test('deploy deploy --skip-push --version SHA: an untagged image line deploys tag SHA, with a note for --skip-push', async () => {
  const r = await e.app.run(['deploy', '--skip-push', '--version', SHA_B, '-q']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stderr, /^note: --skip-push: Berth never builds or pushes an image; it deploys the one in the registry$/m);
  assert.ok(r.stderr.includes(`(${untagged}:${SHA_B} → ${digests[SHA_B]})`), r.stderr);
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');
  assert.equal(await releaseImage(SHA_B), `${untagged}@${digests[SHA_B]}`);

  const a = await e.app.run(['push', '--version', SHA_A]);
  assert.equal(a.code, 0, explain(a, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
  assert.equal(await releaseImage(SHA_A), `${untagged}@${digests[SHA_A]}`);
});

test('VERSION in the environment names the tag as --version does (Kamal reads it too)', async () => {
  const r = await e.app.run(['deploy'], { env: { VERSION: SHA_B } });
  assert.equal(r.code, 0, explain(r, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');
});

test('deploy rollback SHA goes back to the release of that tag', async () => {
  const r = await e.app.run(['rollback', SHA_A]);
  assert.equal(r.code, 0, explain(r, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});

test('a tag the registry does not have: exit 1 naming image:TAG, and nothing changes', async () => {
  const r = await e.app.run(['deploy', '--version', 'nosuchtag1']);
  assert.equal(r.code, 1, explain(r, e));
  assert.ok(r.stderr.includes(`${untagged}:nosuchtag1`), r.stderr);
  assert.match(r.stderr, /not found/);
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});

test('an alias of app exec runs in the running container; extra words are appended', async () => {
  const r = await e.app.run(['release']);
  assert.equal(r.code, 0, explain(r, e));
  assert.equal(r.stdout, `release=${SHA_A}\n`);

  const extra = await e.app.run(['release', '--json']);
  assert.equal(extra.code, 0, explain(extra, e));
  assert.deepEqual(extra.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((x) => 'data' in x).map((x) => x.data), [`release=${SHA_A}\n`]);
});

test('an -i alias (through another alias) runs interactively with the exit code of the remote shell', async () => {
  const p = spawnProcess(process.execPath, [CLI_BIN, 'sh2'], { cwd: e.app.dir, env: { BERTH_KEY: e.app.keyFile, NO_COLOR: '1' }, input: 'echo "hi from $BERTH_RELEASE"\nexit 5\n' });
  const { code } = await p.exited;
  assert.equal(code, 5, `${p.stdout()}\n${p.stderr()}`);
  assert.equal(p.stdout(), `hi from ${SHA_A}\n`);
});

test('Kamal forms: app exec, app details, app logs, lock acquire/status/release', async () => {
  const exec = await e.app.run(['app', 'exec', '-p', 'echo', 'from app exec']);
  assert.equal(exec.code, 0, explain(exec, e));
  assert.equal(exec.stdout, 'from app exec\n');

  const details = await e.app.run(['app', 'details']);
  assert.equal(details.code, 0, explain(details, e));
  assert.ok(details.stdout.includes(SHA_A), details.stdout);

  const logs = await e.app.run(['app', 'logs', '-n', '5', '-T']);
  assert.equal(logs.code, 0, explain(logs, e));

  const lock = await e.app.run(['lock', 'acquire', '-m', 'kamal form']);
  assert.equal(lock.code, 0, explain(lock, e));
  const status = await e.app.run(['lock', 'status', '-q']);
  assert.equal(status.code, 0, explain(status, e));
  assert.match(status.stdout, /kamal form/);
  const refused = await e.app.run(['deploy', '--skip-push', '--version', SHA_B]);
  assert.equal(refused.code, 1, explain(refused, e));
  assert.match(refused.stderr, /kamal form/, 'the refusal says why the servers are locked');
  const release = await e.app.run(['lock', 'release']);
  assert.equal(release.code, 0, explain(release, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});

test('app images and other Kamal commands with no Berth meaning exit 2 naming what to use', async () => {
  const images = await e.app.run(['app', 'images']);
  assert.equal(images.code, 2);
  assert.match(images.stderr, /hint: .*deploy releases/);
  const build = await e.app.run(['build', 'push']);
  assert.equal(build.code, 2);
  assert.match(build.stderr, /deploy push --version TAG/);
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});

test('an image line with a tag keeps it: --version names the release only, and a note says which tag is deployed', async () => {
  e.app.writeConfig(deployYml({ service: e.service, image: `${untagged}:${SHA_B}`, servers: e.hosts.map((h) => h.server), host: e.hostHeader }));
  const r = await e.app.run(['deploy', '--version', 'rel-tagged']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stderr, new RegExp(`^note: the image line names tag ${SHA_B}, which is deployed; --version rel-tagged names the release only`, 'm'));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');
  assert.equal(await releaseImage('rel-tagged'), `${untagged}@${digests[SHA_B]}`);
});
