// The accessory data the agent keeps on the host: files written whole with
// their mode and owner, named directories created and kept, symlinks refused,
// purge deleting only the agent's own directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifestPayload, type AccessorySpec } from '../../../shared/manifest.js';
import { accessoryBase, accessoryRoot } from '../../../agent/core/accessories.js';
import { prepareAccessoryData, purgeAccessoryData } from '../../../agent/accessories/data.js';
import { DIGEST, minimalManifest } from '../../support/manifest-fixture.js';

const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';

function spec(owner?: string): AccessorySpec {
  const m = parseManifestPayload(
    minimalManifest({
      accessories: {
        db: {
          image: `redis@${DIGEST}`,
          files: [{ target: '/etc/redis/redis.conf', content: SEALED, mode: '0640', ...(owner ? { owner } : {}) }],
          directories: [{ source: 'data', target: '/data' }, { source: '/srv/elsewhere', target: '/x' }],
        },
      },
    }),
  );
  return m.accessories!.db!;
}

async function fixture() {
  const stateDir = await mkdtemp(join(tmpdir(), 'berth-acc-'));
  const base = accessoryBase(accessoryRoot(stateDir), { service: 'demo', destination: 'prod' }, 'db');
  return { stateDir, base, done: () => rm(stateDir, { recursive: true, force: true }) };
}

test('files are written with their mode (and owner), directories created 0755, data kept on a second prepare', async () => {
  const f = await fixture();
  try {
    const { notes } = await prepareAccessoryData(f.stateDir, f.base, spec('1234:5678'), { '/etc/redis/redis.conf': 'maxmemory 1mb\n' });
    const file = join(f.base, 'files/etc/redis/redis.conf');
    assert.equal(await readFile(file, 'utf8'), 'maxmemory 1mb\n');
    const st = await stat(file);
    assert.equal(st.mode & 0o777, 0o640);
    if (process.getuid?.() === 0) assert.deepEqual([st.uid, st.gid, notes], [1234, 5678, []]);
    else assert.match(notes.join('\n'), /owner 1234:5678 not set/);
    assert.equal(f.base, join(f.stateDir, 'accessories/demo@prod/db'));
    assert.equal((await stat(join(f.base, 'dirs/data'))).mode & 0o777, 0o755);
    await writeFile(join(f.base, 'dirs/data/dump.rdb'), 'kept');
    await prepareAccessoryData(f.stateDir, f.base, spec(), { '/etc/redis/redis.conf': 'maxmemory 2mb\n' });
    assert.equal(await readFile(file, 'utf8'), 'maxmemory 2mb\n');
    assert.equal(await readFile(join(f.base, 'dirs/data/dump.rdb'), 'utf8'), 'kept');
    assert.deepEqual((await readdir(join(f.base, 'files/etc/redis'))).sort(), ['redis.conf'], 'no temp file left');
  } finally {
    await f.done();
  }
});

test('a symlink where a directory or file belongs is refused', async () => {
  const f = await fixture();
  try {
    await mkdir(join(f.base, 'dirs'), { recursive: true });
    await symlink('/etc', join(f.base, 'dirs/data'));
    await assert.rejects(prepareAccessoryData(f.stateDir, f.base, spec(), { '/etc/redis/redis.conf': 'x' }), /dirs\/data is not a directory \(a symlink\)/);
    await rm(join(f.base, 'dirs/data'));
    await rm(join(f.base, 'files'), { recursive: true, force: true });
    await mkdir(join(f.base, 'files/etc/redis'), { recursive: true });
    await symlink('/etc/passwd', join(f.base, 'files/etc/redis/redis.conf'));
    await assert.rejects(prepareAccessoryData(f.stateDir, f.base, spec(), { '/etc/redis/redis.conf': 'x' }), /is a symlink/);
    assert.notEqual(await readFile('/etc/passwd', 'utf8'), 'x');
  } finally {
    await f.done();
  }
});

test('purge deletes the kept directory and files, and nothing else', async () => {
  const f = await fixture();
  const outside = await mkdtemp(join(tmpdir(), 'berth-acc-outside-'));
  try {
    await prepareAccessoryData(f.stateDir, f.base, spec(), { '/etc/redis/redis.conf': 'x' });
    await writeFile(join(outside, 'keep'), 'x');
    const purged = await purgeAccessoryData(f.base, spec());
    assert.deepEqual(purged, [join(f.base, 'dirs/data'), join(f.base, 'files')]);
    await assert.rejects(stat(f.base), { code: 'ENOENT' });
    assert.equal(await readFile(join(outside, 'keep'), 'utf8'), 'x');
    assert.deepEqual(await purgeAccessoryData(f.base, spec()), [], 'nothing left to purge');
  } finally {
    await f.done();
    await rm(outside, { recursive: true, force: true });
  }
});
