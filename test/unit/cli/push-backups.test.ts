// deploy push with backups: refused (nothing sent) by an agent without
// backups.v1 where the host takes a backup; otherwise the host's manifest
// carries the backup as the agent reads it (argv split, durations in seconds).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import { featurePushFixture, type FakeAgent } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const PG = `postgres@sha256:${'ef'.repeat(32)}`;

describe('deploy push with backups', () => {
  let f: Awaited<ReturnType<typeof featurePushFixture>>;
  before(async () => {
    f = await featurePushFixture('backups.v1');
  });
  after(() => f.close());

  const configure = (agent: FakeAgent) => {
    writeFileSync(join(f.dir, 'deploy.yml'), [
      'service: demo', `image: 127.0.0.1:5000/berth-test/web@${DIGEST}`, 'servers:', `  - 127.0.0.1:${agent.port}`, 'proxy:', '  host: demo.test',
      'accessories:', '  db:', `    image: ${PG}`, '    host: 127.0.0.1', '    directories: [ "data:/var/lib/postgresql/data" ]',
      'x-berth:', '  backups:', '    db:', '      accessory: db', '      user: postgres', '      dump: pg_dump -Fc -Z0 -d app',
      '      restore: pg_restore --clean --if-exists -d app', '      schedule: "0 3 * * *"', '      max_age: 30d', '      writers: [web]', '',
    ].join('\n'));
  };

  it('refuses an agent without backups.v1: exit 1, "upgrade the agent on HOST", nothing sent', async () => {
    configure(f.outdated);
    const host = `127\\.0\\.0\\.1:${f.outdated.port}`;
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`the agent on ${host} \\(version 0\\.1\\.0\\) does not support backups\\.v1`));
    assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${host}`));
    assert.equal(f.outdated.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('sends the backup in the manifest of the host that takes it', async () => {
    configure(f.current);
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 0, res.stderr);
    const payload = await verifyManifest(f.accepted.at(-1)!, { lookupKey: () => f.publicJwk, audience: f.current.agentId });
    assert.deepEqual(payload.backups, {
      db: {
        kind: 'accessory', accessory: 'db', user: 'postgres', dump: ['pg_dump', '-Fc', '-Z0', '-d', 'app'], restore: ['pg_restore', '--clean', '--if-exists', '-d', 'app'],
        schedule: '0 3 * * *', timezone: 'UTC', keep: 7, max_age: 2_592_000, compression: 'zstd', min_size: 1, timeout: 3600, before_deploy: false, writers: ['web'],
      },
    });
  });
});
