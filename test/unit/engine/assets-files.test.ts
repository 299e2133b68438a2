// Copying assets out of an image archive and merging volumes without overwriting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractInto, mergeMissing } from '../../../agent/engine/assets-files.js';
import { tarArchive } from '../../support/tar-writer.js';

test('files and directories are written with readable modes; links, specials and escaping names are left out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'assets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const archive = tarArchive([
    { name: './', type: 'directory' },
    { name: 'a-1.css', data: 'one' },
    { name: 'js/', type: 'directory' },
    { name: 'js/app-1.js', data: 'js' },
    { name: 'link.css', type: 'symlink', linkname: '/etc/passwd' },
    { name: '../escape.css', data: 'no' },
  ]);
  const dest = join(dir, 'extracted', 'r1');
  const r = await extractInto(Readable.from([archive]), dest, 'asset_path /a');
  assert.deepEqual(r, { files: 2, bytes: 5, skipped: 2 });
  assert.equal(readFileSync(join(dest, 'js/app-1.js'), 'utf8'), 'js');
  assert.equal(lstatSync(join(dest, 'a-1.css')).mode & 0o777, 0o644);
  assert.equal(lstatSync(join(dest, 'js')).mode & 0o777, 0o755);
  assert.equal(existsSync(join(dest, 'link.css')), false);
  assert.equal(existsSync(join(dir, 'extracted', 'escape.css')), false);
});

test('a merge adds what is missing, keeps what is there, and never writes through a symlink', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'assets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const from = join(dir, 'from');
  const to = join(dir, 'to');
  mkdirSync(join(from, 'js'), { recursive: true });
  mkdirSync(to);
  writeFileSync(join(from, 'a.css'), 'new');
  writeFileSync(join(from, 'b.css'), 'b');
  writeFileSync(join(from, 'js', 'c.js'), 'c');
  writeFileSync(join(to, 'a.css'), 'old');
  writeFileSync(join(dir, 'outside'), 'untouched');
  symlinkSync(join(dir, 'outside'), join(to, 'b.css'));
  assert.equal(await mergeMissing(from, to), 1);
  assert.equal(readFileSync(join(to, 'a.css'), 'utf8'), 'old');
  assert.equal(readFileSync(join(dir, 'outside'), 'utf8'), 'untouched');
  assert.equal(readFileSync(join(to, 'js', 'c.js'), 'utf8'), 'c');
  assert.equal(await mergeMissing(join(dir, 'missing'), to), 0);
});
