// PURE: which host directories a container can redirect. Docker follows a bind
// source's path again on every start, so a container that can write a
// directory can replace any directory below it with a symlink and change what
// the next start of another bind under it mounts. A bind source is therefore
// safe only when no container can write a directory strictly above it. Two
// binds of the same directory are fine: a container cannot replace the mount
// point it was given, only what is inside it.

export interface HostBind {
  /** Absolute, normalized host path. */
  source: string;
  writable: boolean;
  /** Who holds it, for messages: `role web` or `container shop-web-v1`. */
  holder: string;
}

export interface NestingConflict {
  /** The bind that could be redirected. */
  inner: HostBind;
  /** The writable bind above it. */
  outer: HostBind;
}

const strictlyInside = (path: string, dir: string) => path !== dir && (dir === '/' || path.startsWith(`${dir}/`));

/**
 * The first pair where one bind lies strictly inside a directory another can
 * write, judging each of `candidates` against the others and against
 * `existing` (binds already on the engine). Pairs within `existing` are not
 * judged: they are not ours to refuse.
 */
export function findNestingConflict(candidates: readonly HostBind[], existing: readonly HostBind[] = []): NestingConflict | undefined {
  const all = [...candidates, ...existing];
  for (const [i, a] of candidates.entries()) {
    for (const [j, b] of all.entries()) {
      if (i === j) continue;
      if (b.writable && strictlyInside(a.source, b.source)) return { inner: a, outer: b };
      if (a.writable && strictlyInside(b.source, a.source)) return { inner: b, outer: a };
    }
  }
  return undefined;
}

export function describeNestingConflict(c: NestingConflict): string {
  return (
    `host path ${c.inner.source} (${c.inner.holder}) lies inside ${c.outer.source}, which ${c.outer.holder} can write: ` +
    `that container could replace a directory on the way with a symlink and change what Docker mounts at the next start`
  );
}

export const NESTING_HINT = 'bind sibling directories instead of one inside another, or mount the outer one read-only (:ro)';
