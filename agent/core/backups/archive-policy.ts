// PURE: which tar entries a restore writes. tar-stream only parses, and
// Docker's extraction silently strips absolute paths, creates devices and
// absolute symlinks (docs/internals.md "agent/backups"), so every rule that
// keeps a restore inside its target is here, judged entry by entry in
// archive order, before and while anything is written.
//
// Paths are compared normalized: `./x`, `x` and `x/` are one path; the root
// itself is `.`. A symlink may point only inside the tree, and only as
// leading `../` steps followed by a descent without `..`: a `..` after a
// component could walk up from a symlinked directory (`d -> .`, `l -> d/..`
// leaves the root although it normalizes to `.`). Leading steps walk real
// directories, since nothing may be written below a symlink.
import { posix } from 'node:path';
import { ArchiveRefusedError } from '../../../shared/errors.js';

export interface ArchiveEntry {
  name: string;
  /** tar-stream's type word (file, directory, symlink, link, character-device, fifo, …). */
  type: string | null | undefined;
  linkname?: string | null | undefined;
  mode?: number | undefined;
  size?: number | undefined;
}

export type AllowedType = 'file' | 'contiguous-file' | 'directory' | 'symlink' | 'link';
const ALLOWED: ReadonlySet<string> = new Set<AllowedType>(['file', 'contiguous-file', 'directory', 'symlink', 'link']);

/** What the policy accepted: the normalized path (`.` for the root) and the type. */
export interface JudgedEntry {
  path: string;
  type: AllowedType;
  /** Links: the normalized target (a hard link's is a path in the archive; a symlink's as written). */
  linkname: string | null;
}

const NAME_SHOWN = 200;

/** The entry's name as errors show it: JSON-quoted (control characters escaped), bounded. */
export function shownName(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length > NAME_SHOWN ? `${quoted.slice(0, NAME_SHOWN)}…` : quoted;
}

const hasDotDot = (p: string) => p.split('/').includes('..');

/** The normalized form of an entry name; throws `why` for names no restore writes. */
function normalized(name: string, refuse: (reason: string) => never): string {
  if (name === '') refuse('empty name');
  if (name.includes('\0')) refuse('name contains a NUL byte');
  if (name.startsWith('/')) refuse('absolute path');
  if (hasDotDot(name)) refuse('path contains a ".." segment');
  const path = posix.normalize(name).replace(/\/+$/, '') || '.';
  if (path.startsWith('/') || path === '..' || path.startsWith('../') || hasDotDot(path)) refuse('path leaves the archive root');
  return path;
}

/** Where a relative symlink target lands, or a refusal reason. */
function symlinkTarget(path: string, linkname: string): string | { refused: string } {
  if (linkname === '') return { refused: 'symlink with an empty target' };
  if (linkname.includes('\0')) return { refused: 'symlink target contains a NUL byte' };
  if (linkname.startsWith('/')) return { refused: `symlink to an absolute path ${shownName(linkname)}` };
  const parts = linkname.split('/');
  const firstDown = parts.findIndex((p) => p !== '..');
  if (firstDown >= 0 && parts.slice(firstDown).includes('..')) return { refused: `symlink target ${shownName(linkname)} has ".." after a directory name` };
  const resolved = posix.normalize(posix.join(posix.dirname(path), linkname));
  if (resolved === '..' || resolved.startsWith('../')) return { refused: `symlink target ${shownName(linkname)} leaves the archive root` };
  return resolved;
}

/**
 * A judge for one archive, read in order. `judge` returns the accepted entry
 * or throws ArchiveRefusedError naming it and why.
 */
export function createArchivePolicy(): { judge(entry: ArchiveEntry): JudgedEntry; entries(): number } {
  // Every path seen so far and its type.
  const seen = new Map<string, AllowedType>();
  let count = 0;

  const judge = (entry: ArchiveEntry): JudgedEntry => {
    const refuse = (reason: string): never => {
      throw new ArchiveRefusedError(shownName(entry.name), reason);
    };
    const path = normalized(entry.name, refuse);
    const type = entry.type ?? 'file';
    if (!ALLOWED.has(type)) refuse(`type ${type} is not restored (only files, directories, symlinks and hard links are)`);
    const allowed = type as AllowedType;
    const size = entry.size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0) refuse('invalid size');
    if (size > 0 && allowed !== 'file' && allowed !== 'contiguous-file') refuse(`a ${allowed} entry carries ${size} bytes of data`);
    if (entry.mode !== undefined && (!Number.isInteger(entry.mode) || entry.mode < 0)) refuse('invalid mode');
    if (path === '.' && allowed !== 'directory') refuse('the archive root must be a directory');

    // Nothing is written below a symlink (or below anything that is not a directory).
    const parts = path === '.' ? [] : path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const parentType = seen.get(parent);
      if (parentType === 'symlink') refuse(`its parent ${shownName(parent)} is a symlink in this archive`);
      if (parentType !== undefined && parentType !== 'directory') refuse(`its parent ${shownName(parent)} is not a directory in this archive`);
    }
    const before = seen.get(path);
    if (before !== undefined && before !== allowed) refuse(`appears again as a ${allowed} (it was a ${before})`);

    let linkname: string | null = null;
    if (allowed === 'symlink') {
      const raw = entry.linkname ?? '';
      const target = symlinkTarget(path, raw);
      if (typeof target !== 'string') refuse(target.refused);
      linkname = raw;
    } else if (allowed === 'link') {
      const raw = entry.linkname ?? '';
      if (raw === '') refuse('hard link with an empty target');
      if (raw.includes('\0')) refuse('hard link target contains a NUL byte');
      if (raw.startsWith('/') || hasDotDot(raw)) refuse(`hard link to ${shownName(raw)} outside the archive`);
      const target = posix.normalize(raw).replace(/\/+$/, '') || '.';
      const targetType = seen.get(target);
      if (targetType !== 'file' && targetType !== 'contiguous-file') refuse(`hard link to ${shownName(raw)}, which is not an earlier regular file of this archive`);
      if (target === path) refuse('hard link to itself');
      linkname = target;
    } else if (entry.linkname) {
      refuse(`a ${allowed} entry with a link target`);
    }
    seen.set(path, allowed);
    count += 1;
    return { path, type: allowed, linkname };
  };
  return { judge, entries: () => count };
}
