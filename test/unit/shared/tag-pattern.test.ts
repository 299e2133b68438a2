import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../shared/errors.js';
import { matchesTag, parseTagPattern, pickTag, tagVersion } from '../../../shared/tag-pattern.js';

function refused(text: unknown, message: RegExp): void {
  assert.throws(
    () => parseTagPattern(text),
    (e: unknown) => e instanceof UserError && message.test(e.message),
  );
}

describe('parseTagPattern', () => {
  it('reads image tags as exact, even those semver could read as a range', () => {
    for (const text of ['main', 'latest', '1.4.2', 'v1.4.2', '1.4', '1', 'x', 'release_2025.01-rc']) {
      assert.deepEqual(parseTagPattern(text), { kind: 'exact', text });
    }
  });

  it('reads *, ? and [...] as globs', () => {
    for (const text of ['v*', '*', 'release-?', '1.*', 'build-[0-9]*']) assert.deepEqual(parseTagPattern(text), { kind: 'glob', text });
  });

  it('reads operators, tilde, caret, spaces and x-ranges as semver ranges', () => {
    for (const text of ['~1.4', '^2', '>=2.0.0 <3', '1.2.3 - 2', '1.x', '2.4.X', '<1 || >=3', '=1.2.3']) {
      assert.deepEqual(parseTagPattern(text), { kind: 'range', text });
    }
  });

  it('refuses what is none of the three, naming the problem', () => {
    refused('', /must not be empty/);
    refused(42, /must be a string/);
    refused('a'.repeat(129), /longer than 128 characters/);
    refused(' main', /leading or trailing spaces/);
    refused('-main', /not a valid image tag/);
    refused('.hidden', /not a valid image tag/);
    refused('feat/x', /not a valid image tag/);
    refused('v*/x', /a glob with characters a tag cannot have/);
    refused('v[0-9', /unclosed \[/);
    refused('>=banana', /not a valid semver range/);
    refused('~1.4; rm', /not a valid semver range/);
  });

  it('accepts 128 characters', () => {
    assert.equal(parseTagPattern('a'.repeat(128)).kind, 'exact');
  });
});

describe('matchesTag', () => {
  it('exact: the same tag only', () => {
    const p = parseTagPattern('main');
    assert.equal(matchesTag(p, 'main'), true);
    assert.equal(matchesTag(p, 'main2'), false);
    assert.equal(matchesTag(p, 'Main'), false);
  });

  it('glob: over the whole tag', () => {
    const p = parseTagPattern('v*');
    assert.equal(matchesTag(p, 'v1.2.3'), true);
    assert.equal(matchesTag(p, 'av1'), false);
    assert.equal(matchesTag(parseTagPattern('release-?'), 'release-7'), true);
    assert.equal(matchesTag(parseTagPattern('release-?'), 'release-17'), false);
    assert.equal(matchesTag(parseTagPattern('*'), 'not a tag'), false);
  });

  it('range: full versions only, with or without a leading v; prereleases only when named', () => {
    const p = parseTagPattern('~1.4');
    assert.equal(matchesTag(p, '1.4.0'), true);
    assert.equal(matchesTag(p, 'v1.4.9'), true);
    assert.equal(matchesTag(p, '1.5.0'), false);
    assert.equal(matchesTag(p, '1.4'), false);
    assert.equal(matchesTag(p, '1.4.1-rc.1'), false);
    assert.equal(matchesTag(parseTagPattern('>=1.4.1-rc.0 <2'), '1.4.1-rc.1'), true);
    assert.equal(matchesTag(p, 'main'), false);
  });
});

describe('pickTag', () => {
  const tags = ['main', '1.4', '1.4.0', 'v1.4.10', '1.4.9', '1.5.0', '2.0.0-rc.1', '2.0.0', 'latest', 'build-20250101', 'build-20250301'];

  it('a range picks the highest matching version, comparing versions rather than text', () => {
    assert.equal(pickTag(parseTagPattern('~1.4'), tags), 'v1.4.10');
    assert.equal(pickTag(parseTagPattern('^1'), tags), '1.5.0');
    assert.equal(pickTag(parseTagPattern('>=2.0.0 <3'), tags), '2.0.0');
    assert.equal(pickTag(parseTagPattern('^3'), tags), undefined);
  });

  it('between 1.4.2 and v1.4.2 picks the one without v, whatever the order', () => {
    assert.equal(pickTag(parseTagPattern('~1.4'), ['v1.4.2', '1.4.2']), '1.4.2');
    assert.equal(pickTag(parseTagPattern('~1.4'), ['1.4.2', 'v1.4.2']), '1.4.2');
  });

  it('a glob picks the highest version among its matches, else the lexically greatest', () => {
    assert.equal(pickTag(parseTagPattern('*'), tags), '2.0.0');
    assert.equal(pickTag(parseTagPattern('v*'), ['v1.9.0', 'v1.10.0', 'vnext']), 'v1.10.0');
    assert.equal(pickTag(parseTagPattern('build-*'), tags), 'build-20250301');
  });

  it('an exact pattern picks its tag when listed', () => {
    assert.equal(pickTag(parseTagPattern('main'), tags), 'main');
    assert.equal(pickTag(parseTagPattern('dev'), tags), undefined);
  });

  it('tagVersion reads full versions only', () => {
    assert.equal(tagVersion('v1.2.3'), '1.2.3');
    assert.equal(tagVersion('1.2'), undefined);
    assert.equal(tagVersion('V1.2.3'), undefined);
  });
});
