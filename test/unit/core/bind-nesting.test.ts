// Which binds a container could redirect: one lying strictly inside a
// directory that some container can write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { findNestingConflict, type HostBind } from '../../../agent/core/bind-nesting.js';
import { checkRelease, guardrailPolicy } from '../../../agent/core/guardrails.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const rw = (source: string, holder = 'role web'): HostBind => ({ source, writable: true, holder });
const ro = (source: string, holder = 'role web'): HostBind => ({ source, writable: false, holder });

test('a bind strictly inside a writable bind conflicts, whichever of the two is the candidate', () => {
  assert.deepEqual(findNestingConflict([rw('/srv/x'), ro('/srv/x/sub')]), { inner: ro('/srv/x/sub'), outer: rw('/srv/x') });
  assert.deepEqual(findNestingConflict([ro('/srv/x/a/b')], [rw('/srv/x', 'container c1')]), { inner: ro('/srv/x/a/b'), outer: rw('/srv/x', 'container c1') });
  assert.deepEqual(findNestingConflict([rw('/srv')], [ro('/srv/y', 'container c2')]), { inner: ro('/srv/y', 'container c2'), outer: rw('/srv') });
  assert.ok(findNestingConflict([rw('/')], [ro('/srv/y')]), 'the root holds everything');
});

test('the same directory twice, siblings, prefixes that are not parents, and read-only parents do not conflict', () => {
  assert.equal(findNestingConflict([rw('/srv/x'), rw('/srv/x'), rw('/srv/xy'), ro('/srv/y')], [rw('/srv/x', 'container c'), rw('/srv/x-other')]), undefined);
  assert.equal(findNestingConflict([ro('/srv/x'), ro('/srv/x/sub')]), undefined);
  assert.equal(findNestingConflict([ro('/srv/x/sub')], [ro('/srv/x')]), undefined);
});

test('pairs among existing binds are not judged: they are not the candidate\'s to refuse', () => {
  assert.equal(findNestingConflict([ro('/data/z')], [rw('/srv/x', 'container a'), ro('/srv/x/sub', 'container b')]), undefined);
});

test('checkRelease refuses a release whose roles nest binds, naming both paths, with the hint', () => {
  const release = parseManifestPayload(minimalManifest({
    roles: {
      web: { volumes: ['/srv/x/sub:/loot:ro'] },
      job: { volumes: ['/srv/x:/plant'] },
    },
  }));
  assert.throws(
    () => checkRelease(release, guardrailPolicy()),
    (e: unknown) =>
      e instanceof UserError && e.code === 'guardrail_refused' &&
      e.message === "role web: volume refused by this agent's guardrails: host path /srv/x/sub (role web) lies inside /srv/x, which role job can write: that container could replace a directory on the way with a symlink and change what Docker mounts at the next start" &&
      /mount the outer one read-only/.test(e.hint ?? ''),
  );
  // The same directories read-only everywhere are fine.
  checkRelease(parseManifestPayload(minimalManifest({ roles: { web: { volumes: ['/srv/x/sub:/loot:ro'] }, job: { volumes: ['/srv/x:/plant:ro'] } } })), guardrailPolicy());
});
