// The backups part of a release manifest (feature backups.v1): named backups
// the agent takes on a schedule, on demand and before a release switches. Two
// kinds of source: an accessory's own dump command (its stdout is the backup,
// its restore command reads it back on stdin), or a named volume / directory
// archived as tar by a container that mounts only it, read-only. The CLI
// decides which hosts carry a backup (those of its accessory or role), so an
// agent takes every backup its manifest has. Files are encrypted, when asked,
// to an age X25519 recipient: the agent holds only the public key.
import { z } from 'zod';
import { isTimeZone, parseCronSchedule, DEFAULT_TIME_ZONE, SCHEDULE_MAX_CHARS } from './cron-schedule.js';
import { UserError } from './errors.js';
import { NAME, NAME_RULE } from './manifest-names.js';

export const BACKUP_KINDS = ['accessory', 'volume', 'directory'] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];
export const BACKUP_COMPRESSIONS = ['zstd', 'gzip'] as const;
export type BackupCompression = (typeof BACKUP_COMPRESSIONS)[number];
export const MAX_BACKUPS = 32;
export const BACKUP_KEEP_MAX = 1000;
export const BACKUP_TIMEOUT_MAX_S = 86_400;
export const BACKUP_DEFAULT_TIMEOUT_S = 3600;
export const BACKUP_DEFAULT_KEEP = 7;
/** An age X25519 recipient (`age-keygen -y`): bech32, 62 characters. */
export const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
/** Docker volume names as deploy.yml may write them (agent/core/volumes.ts reads the same). */
export const BACKUP_VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,127}$/;
/** An accessory directory's name (kept under the agent's state dir) or an absolute host path. */
const DIRECTORY = /^(?:\/[^\x00-\x1f\x7f:]{0,1023}|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;
const ABSOLUTE_PATH = /^\/[^\x00-\x1f\x7f:]{0,1023}$/;

const argv = z.array(z.string().max(4096)).min(1).max(64);
const noDotDot = (p: string) => p !== '.' && p !== '..' && !p.split('/').includes('..');

export const backupSchema = z
  .strictObject({
    kind: z.enum(BACKUP_KINDS),
    /**
     * kind accessory: the accessory the dump and restore commands run in.
     * kind volume/directory: the accessory that uses the data, if any (it is
     * stopped during a restore and started again after).
     */
    accessory: z.string().regex(NAME, NAME_RULE).optional(),
    /** kind accessory: argv run in the running accessory (docker exec); its stdout is the backup. */
    dump: argv.optional(),
    /** kind accessory: argv run in the accessory with the backup on stdin. */
    restore: argv.optional(),
    /** kind accessory: the user the commands run as (docker exec --user), e.g. postgres. */
    user: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$/, 'must be USER or USER:GROUP (names or ids)').optional(),
    /** kind volume: the named volume. */
    volume: z.string().regex(BACKUP_VOLUME_NAME, 'must be a Docker volume name').optional(),
    /** kind directory: an accessory directory's name (needs `accessory`) or an absolute host path. */
    directory: z.string().regex(DIRECTORY, 'must be an absolute host path, or the name of one of the accessory\'s directories').refine(noDotDot, 'must not contain ".."').optional(),
    schedule: z.string().max(SCHEDULE_MAX_CHARS).optional(),
    timezone: z.string().max(64).default(DEFAULT_TIME_ZONE),
    /** Good backups kept (the newest ones). */
    keep: z.number().int().min(1).max(BACKUP_KEEP_MAX).default(BACKUP_DEFAULT_KEEP),
    /** Seconds: good backups older than this are deleted, except the newest good one. */
    max_age: z.number().int().min(60).max(100 * 365 * 86_400).optional(),
    compression: z.enum(BACKUP_COMPRESSIONS).default('zstd'),
    /** age X25519 recipient the file is encrypted to (the operator keeps the identity). */
    recipient: z.string().regex(AGE_RECIPIENT, 'must be an age X25519 recipient (age1..., from age-keygen -y)').optional(),
    /** Where the files go (absolute; the agent accepts it only inside one of its --backup-dir roots); default the first root. */
    path: z.string().regex(ABSOLUTE_PATH, 'must be an absolute path').refine(noDotDot, 'must not contain ".."').optional(),
    /** Bytes of the dump or tar archive (before compression): less is a failure. */
    min_size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(1),
    /** Seconds a run may take (dump, write, read-back, verify); then it fails. */
    timeout: z.number().int().min(1).max(BACKUP_TIMEOUT_MAX_S).default(BACKUP_DEFAULT_TIMEOUT_S),
    /** kind accessory: argv run in a throwaway accessory container after the backup was restored into it. */
    verify: argv.optional(),
    /** Taken before each release switches, tied to that release. */
    before_deploy: z.boolean().default(false),
    /** App roles stopped during a restore and started after (the app's writers). */
    writers: z.array(z.string().regex(NAME, NAME_RULE)).max(32).default([]),
  })
  .superRefine((b, ctx) => {
    const need = (key: 'accessory' | 'dump' | 'restore' | 'volume' | 'directory') => {
      if (b[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `is required for a backup of kind ${b.kind}` });
    };
    const refuse = (key: 'dump' | 'restore' | 'user' | 'volume' | 'directory' | 'verify', why: string) => {
      if (b[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: why });
    };
    if (b.kind === 'accessory') {
      need('accessory');
      need('dump');
      need('restore');
      refuse('volume', 'is for backups of kind volume');
      refuse('directory', 'is for backups of kind directory');
    } else {
      refuse('dump', 'is for backups of kind accessory (a volume or directory is archived as tar)');
      refuse('restore', 'is for backups of kind accessory');
      refuse('user', 'is for backups of kind accessory');
      refuse('verify', 'is for backups of kind accessory (it restores the dump into a throwaway accessory)');
      if (b.kind === 'volume') {
        need('volume');
        refuse('directory', 'is for backups of kind directory');
      } else {
        need('directory');
        refuse('volume', 'is for backups of kind volume');
        if (b.directory !== undefined && !b.directory.startsWith('/') && b.accessory === undefined) {
          ctx.addIssue({ code: 'custom', path: ['directory'], message: 'names an accessory directory, so the backup needs `accessory`' });
        }
      }
    }
    if (!isTimeZone(b.timezone)) ctx.addIssue({ code: 'custom', path: ['timezone'], message: `${JSON.stringify(b.timezone)} is not an IANA time zone name (like UTC or Europe/Berlin)` });
    else if (b.schedule !== undefined) {
      try {
        parseCronSchedule(b.schedule, b.timezone);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['schedule'], message: e instanceof UserError ? e.message : 'is not a cron schedule' });
      }
    }
  });

export type BackupSpec = z.output<typeof backupSchema>;
export type BackupInput = z.input<typeof backupSchema>;
