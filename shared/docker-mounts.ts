// PURE: the docker run options Kamal configs use that reach beyond the
// container (`volume`, `mount`, `publish`, `network-alias`, `security-opt`),
// parsed strictly by one parser for both places that judge them: the CLI
// (early, with the deploy.yml line) and the agent (authoritative). Each
// function throws MountSyntaxError with a reason; callers name the key.
//
// `mount` is docker's CSV form. Only what we can judge passes: binds become
// the `SRC:DST[:MODE]` strings `volumes:` uses (so they meet the same
// guardrails), named volumes likewise, NFS volumes of the local driver carry
// their driver options, tmpfs becomes a HostConfig.Tmpfs entry. Everything
// else (bind propagation to the host, other volume drivers, local-driver
// options that bind host paths or devices) is refused.

export class MountSyntaxError extends Error {}

const bad = (why: string): never => {
  throw new MountSyntaxError(why);
};

const MAX_TEXT = 1024;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,127}$/;
const CONTAINER_PATH = /^\/[^\0-\x1f\x7f:,"]{0,1023}$/;
const HOST_PATH = /^\/[^\0-\x1f\x7f:,"]{0,1023}$/;

function oneLine(text: string, what: string): void {
  if (text.length === 0) bad(`${what} is empty`);
  if (text.length > MAX_TEXT) bad(`${what} is longer than ${MAX_TEXT} characters`);
  if (/[\0-\x1f\x7f]/.test(text)) bad(`${what} contains a control character (newline, NUL, ...)`);
}

const hasDotDot = (p: string) => p.split('/').includes('..');

/** `--network-alias`: one more DNS name on the app network. */
export function parseNetworkAlias(value: string): string {
  oneLine(value, 'the alias');
  if (!HOSTNAME.test(value)) bad(`"${value.slice(0, 80)}" is not a host name (letters, digits, "-" and ".")`);
  return value.toLowerCase();
}

/** Why a `--security-opt` value is refused, or undefined when it tightens (no-new-privileges). */
export function securityOptRefusal(value: string): string | undefined {
  if (value === 'no-new-privileges' || value === 'no-new-privileges:true' || value === 'no-new-privileges=true') return undefined;
  const key = value.split(/[:=]/)[0] ?? '';
  const why: Record<string, string> = {
    seccomp: 'changes the seccomp profile that confines the container',
    apparmor: 'changes the AppArmor profile that confines the container',
    label: 'changes or disables the SELinux labels that confine the container',
    systempaths: 'unmasks /proc and /sys paths Docker hides from containers',
  };
  return `${JSON.stringify(value.slice(0, 80))} ${Object.hasOwn(why, key) ? why[key] : 'is not no-new-privileges, the only security-opt allowed (it tightens)'}`;
}

/** `--security-opt`: only what tightens passes. Returns Docker's form. */
export function parseSecurityOpt(value: string): string {
  oneLine(value, 'the value');
  const refusal = securityOptRefusal(value);
  if (refusal !== undefined) bad(`is refused by Berth's guardrails: ${refusal}`);
  return 'no-new-privileges:true';
}

export interface PublishedPort {
  /** '' for all interfaces. */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** Ports one role may publish in all: each is a listening process (docker-proxy) on the host. */
export const MAX_PUBLISHED_PORTS = 100;

const PUBLISH = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]{2,45}\]):)?(\d{1,5})(?:-(\d{1,5}))?:(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/;

function port(text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) bad(`port ${String(text).slice(0, 8)} is not from 1 to 65535`);
  return n;
}

/** `[IP:]HOST[-HOST2]:CONTAINER[-CONTAINER2][/PROTO]`; a host port is required (a random one would change at every deploy). */
export function parsePublish(value: string): PublishedPort[] {
  oneLine(value, 'the value');
  const m = PUBLISH.exec(value);
  if (!m) {
    return bad(
      /^\d{1,5}(\/\w+)?$/.test(value)
        ? `"${value}" names no host port: write HOST_PORT:CONTAINER_PORT (a random host port would change at every deploy)`
        : `"${value.slice(0, 80)}" is not [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]`,
    );
  }
  const [, ip = '', h1, h2, c1, c2, proto = 'tcp'] = m;
  if (ip !== '' && !ip.startsWith('[') && ip.split('.').some((o) => Number(o) > 255)) bad(`${ip} is not an IPv4 address`);
  const hostFrom = port(h1);
  const hostTo = h2 === undefined ? hostFrom : port(h2);
  const ctFrom = port(c1);
  const ctTo = c2 === undefined ? ctFrom : port(c2);
  if (hostTo < hostFrom || ctTo < ctFrom) bad(`"${value}" has a range that ends before it starts`);
  const count = hostTo - hostFrom + 1;
  if (ctTo - ctFrom + 1 !== count) bad(`"${value}" maps ${count} host ports to ${ctTo - ctFrom + 1} container ports`);
  if (count > MAX_PUBLISHED_PORTS) bad(`"${value}" publishes ${count} ports; at most ${MAX_PUBLISHED_PORTS} per role`);
  return Array.from({ length: count }, (_, i) => ({
    hostIp: ip.replace(/^\[|\]$/g, ''),
    hostPort: hostFrom + i,
    containerPort: ctFrom + i,
    protocol: proto as PublishedPort['protocol'],
  }));
}

/** All of a role's publish values; the same host port twice is refused (Docker would fail at start). */
export function parsePublishList(values: readonly string[]): PublishedPort[] {
  const all = values.flatMap(parsePublish);
  if (all.length > MAX_PUBLISHED_PORTS) bad(`publishes ${all.length} ports; at most ${MAX_PUBLISHED_PORTS} per role`);
  const wildcard = (ip: string) => ip === '' || ip === '0.0.0.0' || ip === '::';
  all.forEach((p, i) => {
    const clash = all.slice(0, i).find((q) => q.hostPort === p.hostPort && q.protocol === p.protocol && (q.hostIp === p.hostIp || wildcard(q.hostIp) || wildcard(p.hostIp)));
    if (clash) bad(`host port ${p.hostPort}/${p.protocol} is published twice`);
  });
  return all;
}

/** A mount as `volumes:` would say it, plus what only `mount` can say. */
export type ParsedMount =
  | { type: 'bind' | 'volume'; volume: string; nfs?: Record<string, string> }
  | { type: 'tmpfs'; target: string; options: string };

/**
 * Splits one CSV record the way docker's --mount does (Go's encoding/csv): a
 * field may be wholly in double quotes, with "" for a quote inside.
 */
export function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) bad('has an unterminated quote');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') bad('has text after a closing quote');
    } else {
      const end = text.indexOf(',', i);
      field = text.slice(i, end === -1 ? text.length : end);
      if (field.includes('"')) bad('has a quote inside an unquoted field');
      i = end === -1 ? text.length : end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

const MOUNT_KEYS = new Set([
  'type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro', 'consistency', 'bind-propagation',
  'volume-driver', 'volume-opt', 'volume-nocopy', 'tmpfs-size', 'tmpfs-mode',
]);
const ALIASES: Record<string, string> = { src: 'source', destination: 'target', dst: 'target', ro: 'readonly' };

function flagValue(key: string, value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return bad(`${key}=${value.slice(0, 20)} is not true or false`);
}

// NFS mount options: names and values only, never one that makes the local driver bind or remount a host path.
const NFS_OPTION = /^[a-z_]{1,32}(=[A-Za-z0-9._:/-]{1,128})?$/;
const NFS_FORBIDDEN = new Set(['bind', 'rbind', 'remount', 'move', 'loop']);

function nfsOptions(opts: Record<string, string>): Record<string, string> {
  const { type, o, device, ...rest } = opts;
  if (Object.keys(rest).length > 0) bad(`volume-opt ${Object.keys(rest)[0]} is not one Berth passes on (type, o, device)`);
  if (type !== 'nfs' && type !== 'nfs4') {
    return bad(`volume-opt type=${String(type).slice(0, 20)} is refused: only NFS volumes (type=nfs or nfs4) may carry driver options; others could mount host paths or devices`);
  }
  if (o === undefined || device === undefined) return bad('an NFS volume needs volume-opt=o=addr=SERVER,... and volume-opt=device=:/EXPORT');
  const parts = o.split(',');
  for (const part of parts) {
    if (!NFS_OPTION.test(part)) bad(`NFS option ${JSON.stringify(part.slice(0, 40))} is not NAME or NAME=VALUE`);
    if (NFS_FORBIDDEN.has(part.split('=')[0] ?? '')) bad(`NFS option ${part} is refused: it would mount a host path`);
  }
  const addr = parts.find((p) => p.startsWith('addr='))?.slice(5) ?? '';
  if (!HOSTNAME.test(addr) && !/^[0-9A-Fa-f:.]{2,45}$/.test(addr)) bad('an NFS volume needs volume-opt=o=addr=SERVER (a host name or IP address)');
  if (!/^[A-Za-z0-9.:[\]-]{0,255}:\/[^\0-\x1f\x7f,"]{0,1000}$/.test(device) || hasDotDot(device)) {
    bad(`volume-opt device=${device.slice(0, 60)} is not an NFS export like :/export/path (without "..")`);
  }
  return { type, o, device };
}

/** One `--mount` value, judged strictly: unknown or repeated keys, host propagation and non-NFS driver options are refused. */
export function parseMount(value: string): ParsedMount {
  oneLine(value, 'the value');
  const fields: Record<string, string | undefined> = {};
  const opts: Record<string, string> = {};
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    const rawKey = (eq === -1 ? field : field.slice(0, eq)).trim().toLowerCase();
    const val = eq === -1 ? undefined : field.slice(eq + 1);
    if (!MOUNT_KEYS.has(rawKey)) bad(`key ${JSON.stringify(rawKey.slice(0, 40))} is not one Berth passes on (${[...MOUNT_KEYS].join(', ')})`);
    if (rawKey === 'volume-opt') {
      const e = (val ?? '').indexOf('=');
      if (e <= 0) bad('volume-opt must be volume-opt=NAME=VALUE');
      const name = (val ?? '').slice(0, e);
      if (Object.hasOwn(opts, name)) bad(`volume-opt ${name.slice(0, 40)} is given twice`);
      opts[name] = (val ?? '').slice(e + 1);
      continue;
    }
    const key = ALIASES[rawKey] ?? rawKey;
    if (Object.hasOwn(fields, key)) bad(`key ${key} is given twice`);
    fields[key] = val;
  }
  const type = fields.type ?? 'volume';
  const target = fields.target ?? bad('needs target=/PATH/IN/CONTAINER');
  if (!CONTAINER_PATH.test(target) || hasDotDot(target) || target.replace(/\/+$/, '') === '') {
    bad(`target ${JSON.stringify(target.slice(0, 80))} must be an absolute container path other than /, without "..", ":" or ","`);
  }
  const readonly = Object.hasOwn(fields, 'readonly') ? flagValue('readonly', fields.readonly) : false;
  const only = (allowed: string[]) => {
    const extra = Object.keys(fields).find((k) => !['type', 'source', 'target', 'readonly', 'consistency', ...allowed].includes(k));
    if (extra !== undefined) bad(`key ${extra} does not apply to type=${type}`);
    if (Object.keys(opts).length > 0 && !allowed.includes('volume-opt')) bad(`volume-opt does not apply to type=${type}`);
  };
  if (fields.consistency !== undefined && !['default', 'consistent', 'cached', 'delegated'].includes(fields.consistency)) bad('consistency must be default, consistent, cached or delegated');
  const mode = readonly ? ':ro' : '';
  if (type === 'bind') {
    only(['bind-propagation']);
    const prop = fields['bind-propagation'];
    if (prop !== undefined && prop !== 'private' && prop !== 'rprivate') {
      bad(`bind-propagation=${prop.slice(0, 20)} is refused: only private and rprivate keep the container's mounts from reaching the host`);
    }
    const source = fields.source ?? bad('a bind needs source=/HOST/PATH');
    if (!HOST_PATH.test(source)) bad(`source ${JSON.stringify(source.slice(0, 80))} must be an absolute host path without ":" or ","`);
    if (hasDotDot(source)) bad(`source ${source.slice(0, 80)} must not contain ".."`);
    return { type: 'bind', volume: `${source}:${target}${mode}` };
  }
  if (type === 'volume') {
    only(['volume-driver', 'volume-opt', 'volume-nocopy']);
    const source = fields.source ?? bad('a volume needs source=NAME (an anonymous volume would be lost at the next deploy)');
    if (!VOLUME_NAME.test(source)) bad(`source ${JSON.stringify(source.slice(0, 80))} is not a volume name`);
    const driver = fields['volume-driver'];
    if (driver !== undefined && driver !== 'local') bad(`volume-driver=${driver.slice(0, 40)} is refused: only the local driver (volume plugins run as root on the host)`);
    const nocopy = Object.hasOwn(fields, 'volume-nocopy') && flagValue('volume-nocopy', fields['volume-nocopy']);
    const modes = [...(readonly ? ['ro'] : []), ...(nocopy ? ['nocopy'] : [])];
    const volume = `${source}:${target}${modes.length ? `:${modes.join(',')}` : ''}`;
    return Object.keys(opts).length > 0 ? { type: 'volume', volume, nfs: nfsOptions(opts) } : { type: 'volume', volume };
  }
  if (type === 'tmpfs') {
    only(['tmpfs-size', 'tmpfs-mode']);
    if (fields.source !== undefined) bad('a tmpfs mount takes no source');
    if (readonly) bad('a read-only tmpfs is always empty');
    const size = fields['tmpfs-size'];
    const tmode = fields['tmpfs-mode'];
    if (size !== undefined && !/^\d{1,15}[kmgKMG]?$/.test(size)) bad('tmpfs-size must be a size like 64m');
    if (tmode !== undefined && !/^0?[0-7]{3,4}$/.test(tmode)) bad('tmpfs-mode must be an octal mode like 1777');
    const options = [...(size !== undefined ? [`size=${size}`] : []), ...(tmode !== undefined ? [`mode=${tmode}`] : [])].join(',');
    return { type: 'tmpfs', target, options };
  }
  return bad(`type=${type.slice(0, 20)} is refused: only bind, volume and tmpfs mounts (npipe and cluster are not for this host)`);
}

/**
 * Host paths whose mount gives a container control of this host: the Docker
 * socket, the root, kernel interfaces, the engine's own data. Refused unless
 * the agent owner allows them (`berth-agent run --allow-host-control-mounts`).
 */
export const HOST_CONTROL_ROOTS: readonly string[] = ['/proc', '/sys', '/dev', '/boot', '/run', '/var/run', '/var/lib/docker', '/var/lib/containerd'];
export const ALLOW_HOST_CONTROL_FLAG = 'berth-agent run --allow-host-control-mounts';
export const ALLOW_PUBLISH_FLAG = 'berth-agent run --allow-publish';

/** Whether `path` (absolute, normalized) is `/` or lies within a host-control root. */
export function isHostControlPath(path: string): boolean {
  return path === '/' || HOST_CONTROL_ROOTS.some((r) => path === r || path.startsWith(`${r}/`));
}
