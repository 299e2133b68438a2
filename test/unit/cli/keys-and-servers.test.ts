import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../../cli/main.js';
import { parseKeyLine } from '../../../shared/keys.js';
import { captureStream, makeCert, startFakeAgent, tempDir, testEnv, type FakeAgent, type TestCert } from '../../support/cli-fixtures.js';

async function run(cwd: string, argv: string[], env: Parameters<typeof testEnv>[1] = {}) {
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main({ argv, env: testEnv(cwd, env), stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('deploy keys', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('writes a 0600 key in a 0700 directory and prints only the public line on stdout', async () => {
    const xdg = join(dir.path, 'xdg');
    const res = await run(dir.path, ['keys', 'new', '--comment', 'ci@example'], { xdgConfigHome: xdg });
    assert.equal(res.code, 0);
    assert.match(res.stdout, /^berth-ed25519 [A-Za-z0-9_-]{43} ci@example\n$/);
    assert.match(res.stderr, new RegExp(`written to ${join(xdg, 'berth', 'key.jwk')}`));
    const file = join(xdg, 'berth', 'key.jwk');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(xdg, 'berth')).mode & 0o777, 0o700);
    const jwk = JSON.parse(readFileSync(file, 'utf8'));
    const parsed = await parseKeyLine(res.stdout);
    assert.equal(jwk.kid, parsed.kid);
    assert.equal(jwk.crv, 'Ed25519');
    assert.ok(typeof jwk.d === 'string');

    const shown = await run(dir.path, ['keys', 'show'], { xdgConfigHome: xdg });
    assert.equal(shown.code, 0);
    assert.equal(shown.stdout, res.stdout);
  });

  it('refuses to overwrite a key without --force and leaves it unchanged', async () => {
    const keyFile = join(dir.path, 'k', 'key.jwk');
    const first = await run(dir.path, ['keys', 'new', '--key', keyFile]);
    assert.equal(first.code, 0);
    const before = readFileSync(keyFile, 'utf8');
    const again = await run(dir.path, ['keys', 'new', '--key', keyFile]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^error: a key already exists at .*key\.jwk; not overwriting it\nhint: .*--force/);
    assert.equal(readFileSync(keyFile, 'utf8'), before);
    const forced = await run(dir.path, ['keys', 'new', '--key', keyFile, '--force']);
    assert.equal(forced.code, 0);
    assert.notEqual(readFileSync(keyFile, 'utf8'), before);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  });

  it('uses BERTH_KEY, and refuses a key file others can read', async () => {
    const keyFile = join(dir.path, 'env-key.jwk');
    assert.equal((await run(dir.path, ['keys', 'new'], { berthKey: keyFile })).code, 0);
    assert.equal((await run(dir.path, ['keys', 'show'], { berthKey: keyFile })).code, 0);
    chmodSync(keyFile, 0o644);
    const res = await run(dir.path, ['keys', 'show'], { berthKey: keyFile });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /error: key file .* is accessible by other users \(mode 644\)\nhint: run: chmod 600/);
    const missing = await run(dir.path, ['keys', 'show', '--key', join(dir.path, 'none.jwk')]);
    assert.match(missing.stderr, /error: no operator key at .*none\.jwk\nhint: create one with `deploy keys new`/);
  });
});

describe('deploy server add / list / remove', () => {
  const dir = tempDir();
  let certA: TestCert;
  let certB: TestCert;
  let agent: FakeAgent;
  let port: number;

  before(async () => {
    certA = makeCert(dir.path, 'a');
    certB = makeCert(dir.path, 'b');
    agent = await startFakeAgent(certA);
    port = agent.port;
  });
  after(async () => {
    await agent.close();
    dir.cleanup();
  });

  const knownAgents = () => JSON.parse(readFileSync(join(dir.path, '.berth', 'known_agents'), 'utf8'));

  it('pins a new server and prints its agent id and fingerprint', async () => {
    const res = await run(dir.path, ['server', 'add', `127.0.0.1:${port}`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`agent id: +${agent.agentId}`));
    assert.match(res.stdout, new RegExp(`fingerprint: +SHA256 ${certA.fingerprint}`));
    const entry = knownAgents()[`127.0.0.1:${port}`];
    assert.equal(entry.agent_id, agent.agentId);
    assert.equal(entry.tls_fingerprint, certA.fingerprint);
    assert.equal(entry.certificate.trim(), certA.cert.trim());
    assert.deepEqual(entry.sealing_jwk, agent.keys.sealing.publicJwk);
    assert.match(entry.added_at, /^\d{4}-\d\d-\d\dT/);

    const again = await run(dir.path, ['server', 'add', `127.0.0.1:${port}`]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /already pinned/);
  });

  it('checks --fingerprint before pinning', async () => {
    const other = tempDir();
    try {
      const wrong = await run(other.path, ['server', 'add', `127.0.0.1:${port}`, '--fingerprint', certB.fingerprint]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /presented certificate [0-9a-f]{64}, not the expected/);
      const colons = certA.fingerprint.toUpperCase().match(/../g)!.join(':');
      assert.equal((await run(other.path, ['server', 'add', `127.0.0.1:${port}`, '--fingerprint', colons])).code, 0);
      const bad = await run(other.path, ['server', 'add', `127.0.0.1:${port}`, '--fingerprint', 'xyz']);
      assert.equal(bad.code, 2);
    } finally {
      other.cleanup();
    }
  });

  it('refuses a changed server, naming old and new identity, until --replace', async () => {
    await agent.close();
    const replacement = await startFakeAgent(certB, { port });
    try {
      const before = readFileSync(join(dir.path, '.berth', 'known_agents'), 'utf8');
      const res = await run(dir.path, ['server', 'add', `127.0.0.1:${port}`]);
      assert.equal(res.code, 1);
      assert.ok(res.stderr.includes(`pinned agent ${agent.agentId} with certificate ${certA.fingerprint}`), res.stderr);
      assert.ok(res.stderr.includes(`now presents agent ${replacement.agentId} with certificate ${certB.fingerprint}`), res.stderr);
      assert.ok(res.stderr.includes(`deploy server add 127.0.0.1:${port} --replace`), res.stderr);
      assert.equal(readFileSync(join(dir.path, '.berth', 'known_agents'), 'utf8'), before);

      const replaced = await run(dir.path, ['server', 'add', `127.0.0.1:${port}`, '--replace']);
      assert.equal(replaced.code, 0);
      assert.equal(knownAgents()[`127.0.0.1:${port}`].agent_id, replacement.agentId);
    } finally {
      await replacement.close();
    }
  });

  it('lists and removes pins', async () => {
    const list = await run(dir.path, ['server', 'list', '--json']);
    assert.equal(list.code, 0);
    assert.deepEqual(JSON.parse(list.stdout).servers.map((s: { host: string }) => s.host), [`127.0.0.1:${port}`]);
    const table = await run(dir.path, ['server', 'list']);
    assert.match(table.stdout, /^HOST +AGENT ID +FINGERPRINT \(SHA256\) +ADDED\n127\.0\.0\.1:/);
    assert.equal((await run(dir.path, ['server', 'remove', `127.0.0.1:${port}`])).code, 0);
    assert.deepEqual(knownAgents(), {});
    const gone = await run(dir.path, ['server', 'remove', `127.0.0.1:${port}`]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /is not in .*known_agents/);
  });

  it('refuses a damaged known_agents file and bad addresses', async () => {
    const other = tempDir();
    try {
      mkdirSync(join(other.path, '.berth'));
      writeFileSync(join(other.path, '.berth', 'known_agents'), JSON.stringify({ 'h:1': { agent_id: 'x' } }));
      const res = await run(other.path, ['server', 'list']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /entry "h:1" has no valid agent_id/);
      const bad = await run(other.path, ['server', 'add', 'not a host']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /"not a host" is not HOST or HOST:PORT/);
      assert.equal((await run(other.path, ['server', 'add'])).code, 2);
    } finally {
      other.cleanup();
    }
  });
});
