// PURE: a role's `options.volume` and `options.mount` as the agent uses them.
// Binds and named volumes become the same `SRC:DST[:MODE]` strings as the
// role's `volumes:`, so every check those meet (allowed roots, protected
// paths, "..", symlinks resolved on the host, nesting, the bind guard at
// every create and start, volumes scoped to this agent) applies unchanged.
// NFS volumes are named volumes that carry the local driver's options; tmpfs
// mounts become HostConfig.Tmpfs entries.
import { UserError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { MountSyntaxError, parseMount } from '../../shared/docker-mounts.js';
import type { OptionValue } from './docker-options.js';

export interface OptionMounts {
  /** Volume strings, as in `volumes:`. */
  volumes: string[];
  /** Driver options of NFS volumes, by volume name. */
  volumeOptions: Record<string, Record<string, string>>;
  /** tmpfs mounts: container path -> mount options. */
  tmpfs: Record<string, string>;
}

const values = (v: OptionValue | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [String(v)]);

function judged<T>(role: string, key: string, value: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof MountSyntaxError)) throw e;
    throw new UserError(`role ${role}: options.${key} ${JSON.stringify(value.slice(0, 200))} ${e.message}`, undefined, 'guardrail_refused');
  }
}

/** Throws UserError naming the role, the option and the value for anything malformed or refused. */
export function optionMounts(role: string, options: Record<string, OptionValue> | undefined): OptionMounts {
  const out: OptionMounts = { volumes: [], volumeOptions: {}, tmpfs: {} };
  for (const v of values(options?.volume)) {
    // Judged like `volumes:` entries (parseVolume, then the guardrails); only the type is checked here.
    if (typeof v !== 'string') throw new UserError(`role ${role}: options.volume must be SOURCE:TARGET[:MODE] strings`);
    out.volumes.push(v);
  }
  for (const v of values(options?.mount)) {
    const m = judged(role, 'mount', v, () => parseMount(v));
    if (m.type === 'tmpfs') {
      out.tmpfs[m.target] = m.options;
      continue;
    }
    out.volumes.push(m.volume);
    if (m.type === 'volume' && m.nfs) {
      const name = m.volume.split(':')[0] ?? '';
      const earlier = out.volumeOptions[name];
      if (earlier && JSON.stringify(earlier) !== JSON.stringify(m.nfs)) {
        throw new UserError(`role ${role}: options.mount gives volume ${name} two different sets of NFS options`, undefined, 'guardrail_refused');
      }
      out.volumeOptions[name] = m.nfs;
    }
  }
  return out;
}

type Role = ManifestPayload['roles'][string];

/** Everything a role mounts from the host or a volume: `volumes:` then options.volume and options.mount. */
export function roleVolumes(role: string, spec: Pick<Role, 'volumes' | 'options'>): string[] {
  return [...(spec.volumes ?? []), ...optionMounts(role, spec.options).volumes];
}

/**
 * Options without what reaches beyond the container (host ports, extra DNS
 * names, binds and volumes; tmpfs mounts stay): for a throwaway copy that runs
 * beside the real container and must not take its ports, names or data.
 */
export function withoutHostReach(options: Record<string, OptionValue> | undefined): Record<string, OptionValue> | undefined {
  if (options === undefined) return undefined;
  const { publish: _p, 'network-alias': _a, volume: _v, mount, ...rest } = options;
  const tmpfs = values(mount).filter((v) => typeof v === 'string' && parseMount(v).type === 'tmpfs');
  return { ...rest, ...(tmpfs.length > 0 ? { mount: tmpfs } : {}) };
}
