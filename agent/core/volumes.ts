// PURE: Kamal's volume strings (`SOURCE:TARGET[:MODE]`) as Docker sees them. A
// source starting with "/" is a host path (a bind mount); anything else names
// a volume (the agent creates it, labeled, before the container).
import { posix } from 'node:path';
import { UserError } from '../../shared/errors.js';

export interface VolumeMount {
  kind: 'bind' | 'volume';
  /** Host path (normalized) or volume name. */
  source: string;
  target: string;
  /** Comma-joined Docker mode flags (`ro`, `rw`, `z`, `Z`, `nocopy`), '' for none. */
  mode: string;
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,127}$/;
const MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy']);

function hasDotDot(path: string): boolean {
  return path.split('/').includes('..');
}

/** Parses one volume string; throws UserError naming the role and the entry. */
export function parseVolume(role: string, entry: string): VolumeMount {
  const bad = (why: string) => new UserError(`role ${role}: volume ${JSON.stringify(entry.slice(0, 200))} ${why}`);
  const parts = entry.split(':');
  if (parts.length < 2 || parts.length > 3) throw bad('must be SOURCE:TARGET or SOURCE:TARGET:MODE');
  const [source = '', target = '', modeText = ''] = parts;
  if (!target.startsWith('/') || hasDotDot(target) || posix.normalize(target) === '/') {
    throw bad('must have an absolute container path other than / and without ".."');
  }
  const modes = modeText === '' ? [] : modeText.split(',');
  if (modes.some((m) => !MODES.has(m)) || (modes.includes('ro') && modes.includes('rw'))) {
    throw bad('has a mode other than ro, rw, z, Z or nocopy');
  }
  if (source.startsWith('/')) {
    if (hasDotDot(source)) throw bad('must not contain ".." in its host path');
    if (modes.includes('nocopy')) throw bad('uses nocopy, which is for named volumes only');
    const normalized = posix.normalize(source);
    return { kind: 'bind', source: normalized.length > 1 ? normalized.replace(/\/$/, '') : normalized, target: posix.normalize(target), mode: modes.join(',') };
  }
  if (!VOLUME_NAME.test(source)) {
    throw bad('must start with an absolute host path or a volume name (a relative host path means nothing on the agent)');
  }
  return { kind: 'volume', source, target: posix.normalize(target), mode: modes.join(',') };
}

/** Whether the container may write through it. */
export function isWritable(v: VolumeMount): boolean {
  return !v.mode.split(',').includes('ro');
}

/** The HostConfig.Binds entry Docker takes for it (named volumes: the agent creates them first, with its labels). */
export function bindString(v: VolumeMount): string {
  return [v.source, v.target, ...(v.mode ? [v.mode] : [])].join(':');
}

/** The named volumes among HostConfig.Binds entries (a host path starts with "/"). */
export function namedVolumes(binds: readonly string[]): string[] {
  return [...new Set(binds.map((b) => b.split(':')[0] ?? '').filter((source) => source !== '' && !source.startsWith('/')))];
}
