// PURE: which image a release deploys. Kamal's image line carries no tag and
// the version is the tag (`kamal deploy --version abc123` runs image:abc123),
// so an untagged image line with a declared version (--version, or Kamal's
// VERSION variable) deploys that tag. A line that already names a tag or a
// digest keeps it: Kamal would append the version to it and produce a name
// Docker refuses, so the line's own tag is the only meaning it can have.

import { describeImage, type ImageReference } from '../shared/image-reference.js';

export interface ReleaseImage {
  ref: ImageReference;
  /** Said once on stderr when the version and the image line disagree about the tag. */
  note: string | undefined;
}

/** Whether the image line as written names a tag (parseImageReference fills in `latest`). */
export function namesTag(image: string): boolean {
  if (image.includes('@')) return false;
  return image.lastIndexOf(':') > image.lastIndexOf('/');
}

/** `declared` is the version the user gave (--version or VERSION), not the git HEAD fallback. */
export function releaseImage(image: string, ref: ImageReference, declared: string | undefined): ReleaseImage {
  if (declared === undefined) return { ref, note: undefined };
  if (ref.digest) {
    return { ref, note: `note: the image line pins ${describeImage(ref)}; --version ${declared} names the release only` };
  }
  if (namesTag(image)) {
    return { ref, note: `note: the image line names tag ${ref.tag ?? 'latest'}, which is deployed; --version ${declared} names the release only (remove the tag from image: to deploy tag ${declared}, as Kamal does)` };
  }
  return { ref: { ...ref, tag: declared }, note: undefined };
}

/** Kamal's order: --version, then the VERSION environment variable; undefined means "name it from git". */
export function declaredVersion(flag: string | undefined, processEnv: Readonly<Record<string, string | undefined>>): string | undefined {
  if (flag !== undefined) return flag;
  const fromEnv = processEnv.VERSION;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
}
