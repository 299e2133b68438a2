// Berth's `backups:` key (also under x-berth:, see schema-berth.ts): named
// backups the agents take of an accessory's dump, a named volume or a
// directory. What the agent does with each is shared/manifest-backups.ts;
// this reads deploy.yml's spelling of it (commands split like a role's cmd,
// durations, sizes, an inferred kind) and checks what only the whole config
// knows: the accessory, role, volume and writers exist, and the hosts it lands
// on run the app (only those get a release, so only those take backups).
//
//   backups:
//     db:
//       accessory: db                  # kind accessory: dump/restore run in it
//       user: postgres
//       dump: pg_dump -Fc -Z0 -d app   # stdout is the backup
//       restore: pg_restore --clean --if-exists -d app
//       verify: psql -d app -tAc "select count(*) from users"
//       schedule: "0 3 * * *"          # timezone: default UTC
//       keep: 14                       # good backups kept (default 7)
//       max_age: 30d                   # seconds, or 90m / 12h / 30d
//       compression: zstd              # or gzip
//       recipient: age1...             # encrypt to this age public key
//       path: /srv/backups             # default the agent's backup dir
//       min_size: 10k                  # bytes, or 10k / 5m / 1g (before compression)
//       timeout: 1h
//       before_deploy: true            # also before each release switches
//       writers: [web]                 # roles stopped during a restore
//     uploads:
//       volume: uploads                # or directory: /srv/files (kind inferred)
//       role: web                      # hosts of a backup without accessory (default the primary role)

import { BACKUP_TIMEOUT_MAX_S, MAX_BACKUPS, backupSchema, type BackupKind } from '../../shared/manifest-backups.js';
import { NAME, NAME_RULE } from '../../shared/manifest-names.js';
import { Findings, fromZodIssue, isPlainObject } from './issues.js';
import { accessoryHosts } from './plan.js';
import { ENV_NAME } from './schema-env.js';
import { checkCommand, checkDuration } from './schema-cron.js';
import { checkText } from './schema-values.js';
import type { AccessoryConfig, BackupConfig, RoleConfig } from './types.js';
import type { KeyPath } from './yaml.js';

const KEYS = [
  'kind', 'accessory', 'dump', 'restore', 'verify', 'user', 'volume', 'directory', 'role', 'schedule', 'timezone', 'keep',
  'max_age', 'compression', 'recipient', 'path', 'min_size', 'timeout', 'before_deploy', 'writers',
];
const MAX_AGE_MAX_S = 100 * 365 * 86_400;
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export interface BackupContext {
  roles: RoleConfig[];
  primaryRole: string;
  accessories: AccessoryConfig[];
  /** The app's named volumes (top-level volumes:), `NAME:/path` entries. */
  volumes: string[];
}

/** `1048576`, `10k`, `5m`, `1g` (also `10KB`…) → bytes; undefined when it is none of these. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,12})\s*([kmg]?)b?$/i.exec(value.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] as number);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function inferKind(raw: Record<string, unknown>, path: KeyPath, findings: Findings): BackupKind | undefined {
  if (raw.kind !== undefined && raw.kind !== null) {
    if (raw.kind === 'accessory' || raw.kind === 'volume' || raw.kind === 'directory') return raw.kind;
    findings.error([...path, 'kind'], 'should be one of accessory, volume, directory (or left out: dump, volume or directory tells)');
    return undefined;
  }
  if (raw.dump !== undefined) return 'accessory';
  if (raw.volume !== undefined) return 'volume';
  if (raw.directory !== undefined) return 'directory';
  findings.error(path, 'needs what to back up: dump (with accessory and restore), volume, or directory');
  return undefined;
}

/** Named volumes (not host paths) of `NAME:/path[:opts]` entries. */
const volumeNames = (entries: string[]) => entries.map((v) => v.split(':')[0] ?? '').filter((v) => v !== '' && !v.startsWith('/'));

function checkSource(b: Record<string, unknown>, path: KeyPath, findings: Findings, ctx: BackupContext, acc: AccessoryConfig | undefined): void {
  if (typeof b.volume === 'string') {
    const mounted = acc ? volumeNames(acc.volumes) : volumeNames(ctx.volumes);
    if (!mounted.includes(b.volume)) {
      const by = acc ? `accessory ${acc.name}` : 'the app (top-level volumes:)';
      findings.error([...path, 'volume'], `${JSON.stringify(b.volume)} is not a named volume of ${by} (${mounted.length ? `its volumes: ${mounted.join(', ')}` : 'it mounts none'})`);
    }
  }
  if (typeof b.directory === 'string' && !b.directory.startsWith('/') && acc && !acc.directories.some((d) => d.source === b.directory)) {
    const names = acc.directories.map((d) => d.source).filter((s) => !s.startsWith('/'));
    findings.error([...path, 'directory'], `${JSON.stringify(b.directory)} is not a directory of accessory ${acc.name} (${names.length ? `its directories: ${names.join(', ')}` : 'it keeps none'}); write an absolute host path otherwise`);
  }
}

/** The hosts (names, no port) the backup lands on; the roles' hosts are where a release goes. */
function checkPlacement(raw: Record<string, unknown>, path: KeyPath, findings: Findings, ctx: BackupContext, acc: AccessoryConfig | undefined): string[] | undefined {
  if (acc) {
    if (raw.role !== undefined && raw.role !== null) findings.error([...path, 'role'], `is for backups without accessory; this one is taken where accessory ${acc.name} runs`);
    return accessoryHosts(ctx, acc);
  }
  const name = raw.role === undefined || raw.role === null ? ctx.primaryRole : checkText(raw.role, [...path, 'role'], findings, 63);
  if (name === undefined) return undefined;
  const role = ctx.roles.find((r) => r.name === name);
  const given = raw.role === undefined || raw.role === null ? ' (the primary role, the default)' : '';
  if (!role) findings.error([...path, 'role'], `${JSON.stringify(name.slice(0, 63))}${given} is not a role in servers (roles: ${ctx.roles.map((r) => r.name).join(', ') || 'none'})`);
  else if (role.hosts.length === 0) findings.error([...path, 'role'], `role ${name}${given} has no hosts, so the backup would be taken nowhere`);
  else return role.hosts.map((h) => h.address.host);
  return undefined;
}

function checkWriters(raw: unknown, path: KeyPath, findings: Findings, ctx: BackupContext, hosts: string[] | undefined): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.some((w) => typeof w !== 'string')) {
    findings.error(path, 'should be a list of role names (the roles stopped while the backup is restored)');
    return undefined;
  }
  const writers = raw as string[];
  writers.forEach((name, i) => {
    const role = ctx.roles.find((r) => r.name === name);
    if (!role) return findings.error([...path, i], `${JSON.stringify(name.slice(0, 63))} is not a role in servers (roles: ${ctx.roles.map((r) => r.name).join(', ')})`);
    const away = (hosts ?? []).filter((h) => !role.hosts.some((rh) => rh.address.host.toLowerCase() === h.toLowerCase()));
    // The agent that restores stops its own containers only.
    if (away.length) findings.error([...path, i], `role ${name} does not run on ${away.join(', ')}, where this backup is taken and restored, so a restore there could not stop it`);
  });
  return writers;
}

function checkBackup(raw: unknown, path: KeyPath, findings: Findings, ctx: BackupContext): BackupConfig | undefined {
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map (accessory and dump/restore, or volume, or directory; schedule, keep, …)');
    return undefined;
  }
  const before = findings.issues.length;
  for (const key of Object.keys(raw)) if (!KEYS.includes(key)) findings.error([...path, key], 'unknown key');
  const kind = inferKind(raw, path, findings);
  const spec: Record<string, unknown> = { ...raw, kind };
  delete spec.role;
  for (const key of Object.keys(spec)) if (spec[key] === null || !KEYS.includes(key)) delete spec[key];
  let acc: AccessoryConfig | undefined;
  if (raw.accessory !== undefined && raw.accessory !== null) {
    acc = ctx.accessories.find((a) => a.name === raw.accessory);
    if (!acc) findings.error([...path, 'accessory'], `${JSON.stringify(String(raw.accessory).slice(0, 63))} is not in accessories (${ctx.accessories.map((a) => a.name).join(', ') || 'there are none'})`);
  }
  for (const key of ['dump', 'restore', 'verify'] as const) {
    if (raw[key] === undefined || raw[key] === null) continue;
    const argv = checkCommand(raw[key], [...path, key], findings);
    if (argv) spec[key] = argv;
  }
  for (const [key, min, max] of [['max_age', 60, MAX_AGE_MAX_S], ['timeout', 1, BACKUP_TIMEOUT_MAX_S]] as const) {
    if (raw[key] === undefined || raw[key] === null) continue;
    const seconds = checkDuration(raw[key], [...path, key], findings, min, max);
    if (seconds !== undefined) spec[key] = seconds;
  }
  if (raw.min_size !== undefined && raw.min_size !== null) {
    const bytes = parseSize(raw.min_size);
    if (bytes === undefined || bytes < 1) findings.error([...path, 'min_size'], 'should be a size: bytes (1048576) or 10k, 5m, 1g');
    else spec.min_size = bytes;
  }
  if (typeof raw.recipient === 'string' && !raw.recipient.startsWith('age1') && ENV_NAME.test(raw.recipient)) {
    findings.error([...path, 'recipient'], 'should be the age recipient itself (age1…): it is a public key, so it is written out, not kept in a secret');
  }
  if (acc) checkSource(raw, path, findings, ctx, acc);
  else if (kind === 'volume') checkSource(raw, path, findings, ctx, undefined);
  const hosts = checkPlacement(raw, path, findings, ctx, acc);
  const writers = checkWriters(raw.writers, [...path, 'writers'], findings, ctx, hosts);
  if (writers) spec.writers = writers;
  for (const h of hosts ?? []) {
    if (!ctx.roles.some((r) => r.hosts.some((rh) => rh.address.host.toLowerCase() === h.toLowerCase()))) {
      findings.error(acc ? [...path, 'accessory'] : path, `${h} runs no role of the app, so deploy push never reaches it and the backup would not be taken there`);
    }
  }
  if (kind === undefined) return undefined;
  // The shared schema checks the rest; a key already reported keeps its first message.
  const reported = new Set(findings.issues.slice(before).map((i) => String(i.path[path.length] ?? '')));
  const parsed = backupSchema.safeParse(spec);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const found of fromZodIssue(issue, spec, path)) if (!reported.has(String(found.path[path.length] ?? ''))) findings.error(found.path, found.message);
    }
  }
  if (findings.issues.length > before || !parsed.success) return undefined;
  return { ...parsed.data, ...(acc ? {} : { role: typeof raw.role === 'string' ? raw.role : ctx.primaryRole }) };
}

/** The `backups:` section found at `path`: named backups, each checked against the accessories, roles and volumes that exist. */
export function checkBackups(raw: unknown, path: KeyPath, findings: Findings, ctx: BackupContext): Record<string, BackupConfig> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map of backup names to backups (accessory and dump, volume or directory; schedule, keep, …)');
    return undefined;
  }
  const names = Object.keys(raw);
  if (names.length > MAX_BACKUPS) {
    findings.error(path, `has ${names.length} backups; at most ${MAX_BACKUPS} are allowed`);
    return undefined;
  }
  const backups: Record<string, BackupConfig> = {};
  for (const name of names) {
    if (!NAME.test(name)) {
      findings.error([...path, name], `backup names ${NAME_RULE}`);
      continue;
    }
    const backup = checkBackup(raw[name], [...path, name], findings, ctx);
    if (backup) backups[name] = backup;
  }
  return backups;
}
