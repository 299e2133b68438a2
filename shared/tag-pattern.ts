// The `tag` of an auto_deploy policy: which image tags a server follows. The
// only importer of `semver` and `picomatch`. A pattern is one of three kinds,
// told apart by its characters alone so that nobody has to guess:
//  - glob: contains `*`, `?` or `[` (`v*`, `release-?`, `1.*`);
//  - semver range: contains an operator or a space (`<`, `>`, `=`, `~`, `^`,
//    `|`, ` `) or is an x-range (`1.x`, `2.4.X`): `~1.4`, `>=2.0.0 <3`, `^2`;
//  - exact: anything else, as Docker's tag grammar allows (`main`, `1.4.2`,
//    `1.4`): an image tag written as such is that tag, even if semver could
//    read it as a range (`1.4` is the floating tag `1.4`, not `>=1.4.0 <1.5.0`).
// Ranges match only tags that are full versions (`1.4.2`, or `v1.4.2`), with
// semver's rule for prereleases (`2.0.0-rc.1` only if the range names a
// prerelease of 2.0.0). Short tags like `1.4` are floating aliases and never
// match a range.
import picomatch from 'picomatch';
import semver from 'semver';
import { UserError } from './errors.js';

export const TAG_PATTERN_MAX_CHARS = 128;
/** Docker's tag grammar. */
export const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const GLOB_CHARS = /[*?[]/;
const GLOB = /^[A-Za-z0-9_.\-*?[\]]+$/;
const RANGE_SYNTAX = /[<>=~^| ]/;
const X_RANGE = /^v?\d+(\.(\d+|[xX])){0,2}$/;
const HAS_X = /\.[xX]/;
const RANGE = /^[A-Za-z0-9_.\-<>=~^| ]+$/;
// A full version as a tag: semver without build metadata (Docker tags have no `+`), optionally `v`.
const VERSION_TAG = /^v?\d/;

export type TagPattern =
  | { kind: 'exact'; text: string }
  | { kind: 'glob'; text: string }
  | { kind: 'range'; text: string };

function invalid(text: string, why: string): UserError {
  return new UserError(`tag pattern ${JSON.stringify(text.slice(0, TAG_PATTERN_MAX_CHARS))} ${why}`, 'write an exact tag (main), a glob (v*) or a semver range (~1.4, >=2.0.0 <3)');
}

function globMatcher(text: string): (tag: string) => boolean {
  // No braces or extglobs: the pattern means what the three glob characters say.
  return picomatch(text, { dot: true, nobrace: true, noextglob: true, nonegate: true, noglobstar: true });
}

/** Reads a policy `tag`; UserError naming the problem when it is none of the three kinds. */
export function parseTagPattern(text: unknown): TagPattern {
  if (typeof text !== 'string') throw new UserError('tag pattern must be a string');
  if (text.length === 0) throw new UserError('tag pattern must not be empty');
  if (text.length > TAG_PATTERN_MAX_CHARS) throw invalid(text, `is longer than ${TAG_PATTERN_MAX_CHARS} characters`);
  if (text !== text.trim()) throw invalid(text, 'has leading or trailing spaces');
  if (GLOB_CHARS.test(text)) {
    if (!GLOB.test(text)) throw invalid(text, 'is a glob with characters a tag cannot have (a glob may use A-Z a-z 0-9 _ . - and * ? [...])');
    if (/\[(?![^\]]+\])/.test(text)) throw invalid(text, 'has an unclosed [');
    return { kind: 'glob', text };
  }
  if (RANGE_SYNTAX.test(text) || (X_RANGE.test(text) && HAS_X.test(text))) {
    if (!RANGE.test(text) || semver.validRange(text) === null) throw invalid(text, 'is not a valid semver range');
    return { kind: 'range', text };
  }
  if (!DOCKER_TAG.test(text)) throw invalid(text, 'is not a valid image tag (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)');
  return { kind: 'exact', text };
}

/** The version a tag names (`1.4.2`, `v1.4.2`), or undefined when it is not a full version. */
export function tagVersion(tag: string): string | undefined {
  if (!DOCKER_TAG.test(tag) || !VERSION_TAG.test(tag)) return undefined;
  return semver.valid(tag) ?? undefined;
}

function compiled(pattern: TagPattern): (tag: string) => boolean {
  switch (pattern.kind) {
    case 'exact':
      return (tag) => tag === pattern.text;
    case 'glob': {
      const test = globMatcher(pattern.text);
      return (tag) => DOCKER_TAG.test(tag) && test(tag);
    }
    case 'range':
      return (tag) => {
        const version = tagVersion(tag);
        return version !== undefined && semver.satisfies(version, pattern.text);
      };
  }
}

export function matchesTag(pattern: TagPattern, tag: string): boolean {
  return compiled(pattern)(tag);
}

/** Highest version first, then (for tags that are no version) the lexically greatest; `1.4.2` before `v1.4.2`. */
function compareTags(a: string, b: string): number {
  const va = tagVersion(a);
  const vb = tagVersion(b);
  if (va !== undefined && vb !== undefined) return semver.compare(va, vb) || (a < b ? 1 : a > b ? -1 : 0);
  if (va !== undefined) return 1;
  if (vb !== undefined) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The tag a poll should follow among a repository's tags: for an exact
 * pattern that tag if listed; for a range the highest matching version; for a
 * glob the highest matching version, or when no matching tag is a version the
 * lexically greatest (right for date stamps like build-20250101, meaningless
 * for commit hashes: follow such tags with an exact pattern). A webhook names
 * its tag itself and needs only matchesTag.
 */
export function pickTag(pattern: TagPattern, tags: readonly string[]): string | undefined {
  const matches = compiled(pattern);
  let best: string | undefined;
  for (const tag of tags) {
    if (!matches(tag)) continue;
    if (best === undefined || compareTags(tag, best) > 0) best = tag;
  }
  return best;
}
