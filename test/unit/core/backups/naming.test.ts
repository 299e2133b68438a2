import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupDir, backupFileName, tempFileName, uploadTempName, utcStamp } from '../../../../agent/core/backups/naming.js';

const ref = { service: 'shop', destination: '', backup: 'db' };

describe('backup file naming', () => {
  it('stamps UTC as yyyymmddThhmmssZ', () => {
    assert.equal(utcStamp(Date.UTC(2026, 11, 5, 6, 58, 40, 123)), '20261205T065840Z');
  });

  it('names a file by backup, id, time, format, compression and encryption', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    assert.equal(backupFileName({ backup: 'db', id: 7, startedAt: at, kind: 'accessory', compression: 'zstd', encrypted: false }), 'db-7-20260102T030405Z.dump.zst');
    assert.equal(backupFileName({ backup: 'up', id: 8, startedAt: at, kind: 'volume', compression: 'gzip', encrypted: true }), 'up-8-20260102T030405Z.tar.gz.age');
  });

  it('temp files start with .tmp- in the same directory', () => {
    assert.equal(tempFileName('/b/shop/db', 3, 'abc', 'plain'), '/b/shop/db/.tmp-3-abc');
    assert.equal(tempFileName('/b/shop/db', 3, 'abc', 'age'), '/b/shop/db/.tmp-3-abc.age');
    // An upload restore's plaintext too: a crash must not leave it for ever.
    assert.equal(uploadTempName('/b/shop/db', 3, 'abc'), '/b/shop/db/.tmp-restore-3-abc.upload');
  });

  it('puts files under the first root, or the backup path inside a root', () => {
    assert.deepEqual(backupDir(['/var/lib/berth/backups', '/mnt/b'], ref, {}), { root: '/var/lib/berth/backups', dir: '/var/lib/berth/backups/shop/db' });
    assert.deepEqual(backupDir(['/a', '/mnt/b'], { ...ref, destination: 'eu' }, { path: '/mnt/b/x' }), { root: '/mnt/b', dir: '/mnt/b/x/shop-eu/db' });
  });

  it('refuses a path outside every root, naming the roots', () => {
    const r = backupDir(['/a', '/mnt/b'], ref, { path: '/mnt/bb' });
    assert.ok('problem' in r && r.problem.includes('outside') && r.problem.includes('/a, /mnt/b'), JSON.stringify(r));
    assert.ok('problem' in backupDir([], ref, {}));
  });
});
