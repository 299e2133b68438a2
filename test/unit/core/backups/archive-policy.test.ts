import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createArchivePolicy, shownName, type ArchiveEntry } from '../../../../agent/core/backups/archive-policy.js';
import { ArchiveRefusedError } from '../../../../shared/errors.js';

const file = (name: string, size = 3): ArchiveEntry => ({ name, type: 'file', size, mode: 0o644 });
const dir = (name: string): ArchiveEntry => ({ name, type: 'directory', size: 0, mode: 0o755 });
const sym = (name: string, linkname: string): ArchiveEntry => ({ name, type: 'symlink', linkname, size: 0 });
const hard = (name: string, linkname: string): ArchiveEntry => ({ name, type: 'link', linkname, size: 0 });

/** Judges `before` (all accepted), then `entry`: its refusal, or undefined when accepted. */
function refusal(entry: ArchiveEntry, before: ArchiveEntry[] = []): ArchiveRefusedError | undefined {
  const policy = createArchivePolicy();
  for (const e of before) policy.judge(e);
  try {
    policy.judge(entry);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ArchiveRefusedError, String(err));
    assert.equal(err.code, 'archive_entry_refused');
    assert.equal(err.entry, shownName(entry.name));
    assert.ok(err.message.includes(shownName(entry.name)), err.message);
    return err;
  }
}

function refused(entry: ArchiveEntry, reason: RegExp, before: ArchiveEntry[] = []): void {
  const err = refusal(entry, before);
  assert.ok(err, `expected ${JSON.stringify(entry)} to be refused`);
  assert.match(err.reason, reason);
}

function accepted(entry: ArchiveEntry, before: ArchiveEntry[] = []): void {
  const err = refusal(entry, before);
  assert.equal(err, undefined, err?.message);
}

test('ordinary entries of a Docker archive are accepted and normalized', () => {
  const p = createArchivePolicy();
  assert.deepEqual(p.judge(dir('./')), { path: '.', type: 'directory', linkname: null });
  assert.equal(p.judge(dir('./sub/')).path, 'sub');
  assert.equal(p.judge(file('./sub/a b.txt')).path, 'sub/a b.txt');
  assert.equal(p.judge(file('sub//c')).path, 'sub/c');
  assert.equal(p.judge(file('./-leading-dash')).path, '-leading-dash');
  assert.equal(p.judge(file('line\nbreak')).path, 'line\nbreak');
  assert.equal(p.judge(file('ünïcødé ✓')).path, 'ünïcødé ✓');
  assert.equal(p.judge({ name: 'contig', type: 'contiguous-file', size: 1 }).type, 'contiguous-file');
  assert.equal(p.entries(), 8);
});

test('relative symlinks that stay inside are accepted', () => {
  accepted(sym('a', 'sub/b'), [dir('sub')]);
  accepted(sym('sub/up', '../a'), [dir('sub')]);
  accepted(sym('sub/deep/up', '../../x'), [dir('sub'), dir('sub/deep')]);
  accepted(sym('here', '.'));
  accepted(sym('dangling', 'missing/file'));
  accepted(sym('dot', './x/./y'));
});

test('empty, NUL, absolute and ".." names are refused', () => {
  refused(file(''), /empty name/);
  refused(file('a\0b'), /NUL/);
  refused(file('/etc/x'), /absolute/);
  refused(file('//etc/x'), /absolute/);
  refused(file('../x'), /\.\./);
  refused(file('./../x'), /\.\./);
  refused(file('a/../../x'), /\.\./);
  refused(file('a/..'), /\.\./);
  refused(file('..'), /\.\./);
  refused(dir('sub/../'), /\.\./);
});

test('types other than file, directory, symlink and hard link are refused, naming the type', () => {
  for (const type of ['character-device', 'block-device', 'fifo', 'pax-global-header', 'socket']) {
    refused({ name: 'dev/x', type, size: 0 }, new RegExp(`type ${type}`));
  }
});

test('symlinks that point outside or absolute are refused', () => {
  refused(sym('abs', '/etc/passwd'), /absolute/);
  refused(sym('up', '..'), /leaves/);
  refused(sym('up', '../etc'), /leaves/);
  refused(sym('sub/up', '../../etc'), /leaves/, [dir('sub')]);
  refused(sym('empty', ''), /empty/);
  refused(sym('nul', 'a\0b'), /NUL/);
  // Normalizes inside, but walks up from a directory that may be a symlink.
  refused(sym('l', 'd/..'), /after a directory/, [sym('d', '.')]);
  refused(sym('l', 'a/../..'), /after a directory/);
});

test('nothing is written below an earlier symlink or a non-directory', () => {
  refused(file('link/x'), /parent "link" is a symlink/, [sym('link', 'sub')]);
  refused(file('./link/deep/x'), /parent "link" is a symlink/, [sym('link', 'sub')]);
  refused(dir('link/d'), /symlink/, [sym('./link', '.')]);
  refused(file('f/x'), /not a directory/, [file('f')]);
});

test('hard links must name an earlier regular file inside the archive', () => {
  accepted(hard('h', 'a'), [file('a')]);
  accepted(hard('./h', './sub/a'), [dir('sub'), file('sub/a')]);
  refused(hard('h', '../../etc/passwd'), /outside/);
  refused(hard('h', '/etc/hostname'), /outside/);
  refused(hard('h', 'later'), /not an earlier regular file/);
  refused(hard('h', 'sub'), /not an earlier regular file/, [dir('sub')]);
  refused(hard('h', 's'), /not an earlier regular file/, [sym('s', 'a'), file('a')]);
  refused(hard('h', ''), /empty/);
  refused(hard('a', 'a'), /appears again|itself/, [file('a')]);
});

test('a path seen again with another type is refused; the same type is not', () => {
  refused(sym('x', 'y'), /appears again as a symlink \(it was a directory\)/, [dir('x')]);
  refused(dir('./x/'), /appears again as a directory/, [file('x')]);
  accepted(file('./x'), [file('x')]);
  accepted(dir('x/'), [dir('./x')]);
});

test('the root must be a directory; data only on files; no stray link targets', () => {
  refused(file('.'), /root/);
  refused(sym('./', 'x'), /root/);
  refused({ name: 'd', type: 'directory', size: 10 }, /carries 10 bytes/);
  refused({ name: 's', type: 'symlink', linkname: 'x', size: 1 }, /carries/);
  refused({ name: 'f', type: 'file', linkname: 'x', size: 0 }, /link target/);
  refused({ name: 'f', type: 'file', size: -1 }, /size/);
  refused({ name: 'f', type: 'file', size: 1.5 }, /size/);
});

test('names in errors are JSON-quoted and bounded', () => {
  const err = refusal({ name: `\u001b[31m${'x'.repeat(1000)}`, type: 'fifo', size: 0 });
  assert.ok(err);
  assert.ok(err.message.startsWith('archive entry "\\u001b[31mxxx'), err.message);
  assert.ok(err.message.length < 400, String(err.message.length));
  assert.ok(!err.message.includes('\u001b'));
});
