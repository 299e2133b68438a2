// Berth's own keys that a file shared with Kamal can hide under `x-berth:`
// (Kamal ignores `x-` keys): `auto_deploy`, `backups`, `bake`, `cron`,
// `notify` and `replicas`, read there or at the top level, never both (cron and
// notify: schema-cron.ts; backups: schema-backups.ts; replicas: schema-replicas.ts). And the `auto_deploy:` section itself:
//
//   auto_deploy:
//     tag: "~1.4"              # exact (main), glob (v*) or semver range
//     sources:                 # a list: NAME or NAME:SECRET_NAME (as env/secret; `NAME: SECRET_NAME` too)
//       - dockerhub
//       - github:GHCR_WEBHOOK_SECRET
//     poll: 5m                 # seconds, or 90s / 5m / 1h / 1d
//
// or `sources:` as a map: `github: { secret: GHCR_WEBHOOK_SECRET }`, `quay:`.
// A SECRET_NAME names a secret in .kamal/secrets, as env/secret does.

import { POLL_MAX_S, POLL_MIN_S, SECRET_WEBHOOK_SOURCES, WEBHOOK_SOURCES, type WebhookSource } from '../../shared/manifest.js';
import { parseTagPattern } from '../../shared/tag-pattern.js';
import { ENV_NAME } from './schema-env.js';
import { Findings, isPlainObject } from './issues.js';
import type { AutoDeployConfig, AutoDeploySource } from './types.js';
import type { KeyPath } from './yaml.js';

export const BERTH_SECTION = 'x-berth';
const LIFTED = ['auto_deploy', 'backups', 'bake', 'cron', 'notify', 'replicas'] as const;
type Lifted = (typeof LIFTED)[number];

/** Where each lifted key was written: `['bake']` or `['x-berth', 'bake']`. */
export type BerthPaths = Record<Lifted, KeyPath>;

/** Copies `x-berth:`'s keys into `values` (the top-level map Kamal compatibility left), recording where they came from. */
export function liftBerthKeys(raw: Record<string, unknown>, values: Record<string, unknown>, findings: Findings): BerthPaths {
  const paths: BerthPaths = { auto_deploy: ['auto_deploy'], backups: ['backups'], bake: ['bake'], cron: ['cron'], notify: ['notify'], replicas: ['replicas'] };
  const section = raw[BERTH_SECTION];
  if (section === undefined || section === null) return paths;
  if (!isPlainObject(section)) {
    findings.error([BERTH_SECTION], `should be a map with any of ${LIFTED.join(', ')}`);
    return paths;
  }
  for (const [key, value] of Object.entries(section)) {
    if (!(LIFTED as readonly string[]).includes(key)) {
      findings.error([BERTH_SECTION, key], `unknown key (${BERTH_SECTION} holds ${LIFTED.join(', ')})`);
      continue;
    }
    const name = key as Lifted;
    if (name in values) {
      findings.error([BERTH_SECTION, name], `is also set at the top level (${name}); keep one of ${name} and ${BERTH_SECTION}/${name}`);
      continue;
    }
    values[name] = value;
    paths[name] = [BERTH_SECTION, name];
  }
  return paths;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `300`, `90s`, `5m`, `1h`, `1d` → seconds; undefined when it is none of these. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,6})\s*([smhd]?)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNITS[match[2] || 's'] as number);
}

function isSource(name: string): name is WebhookSource {
  return (WEBHOOK_SOURCES as readonly string[]).includes(name);
}

function checkSource(name: string, secret: unknown, path: KeyPath, findings: Findings): AutoDeploySource | undefined {
  if (!isSource(name)) {
    findings.error(path, `${JSON.stringify(name.slice(0, 64))} is not a webhook source (one of ${WEBHOOK_SOURCES.join(', ')})`);
    return undefined;
  }
  const needs = SECRET_WEBHOOK_SOURCES.has(name);
  if (secret === undefined || secret === null) {
    if (needs) findings.error(path, `${name} verifies deliveries with a secret: write ${name}:SECRET_NAME, naming a secret in .kamal/secrets`);
    return needs ? undefined : { name };
  }
  if (!needs) {
    findings.error(path, `${name} signs nothing (its deliveries are checked by the webhook URL's token only), so it takes no secret`);
    return undefined;
  }
  if (typeof secret !== 'string' || !ENV_NAME.test(secret)) {
    findings.error(path, 'the secret should be the NAME of a secret in .kamal/secrets (letters, digits and _)');
    return undefined;
  }
  return { name, secret };
}

function checkSources(raw: unknown, path: KeyPath, findings: Findings): AutoDeploySource[] {
  if (raw === undefined || raw === null) return [];
  const out: AutoDeploySource[] = [];
  const add = (source: AutoDeploySource | undefined, at: KeyPath) => {
    if (!source) return;
    if (out.some((s) => s.name === source.name)) findings.error(at, `${source.name} is listed twice`);
    else out.push(source);
  };
  if (Array.isArray(raw)) {
    if (raw.length > WEBHOOK_SOURCES.length) findings.error(path, `should have at most ${WEBHOOK_SOURCES.length} items`);
    raw.slice(0, WEBHOOK_SOURCES.length).forEach((entry, i) => {
      // `- github: SECRET_NAME` is what YAML makes of NAME: SECRET_NAME written with a space.
      const single = isPlainObject(entry) && Object.keys(entry).length === 1 ? Object.entries(entry)[0] : undefined;
      if (single && (single[1] === null || typeof single[1] === 'string')) return add(checkSource(single[0], single[1], [...path, i], findings), [...path, i]);
      if (typeof entry !== 'string') return findings.error([...path, i], 'should be NAME or NAME:SECRET_NAME');
      const [name = '', secret, extra] = entry.split(':');
      if (extra !== undefined) return findings.error([...path, i], 'should be NAME or NAME:SECRET_NAME');
      add(checkSource(name.trim(), secret?.trim(), [...path, i], findings), [...path, i]);
    });
  } else if (isPlainObject(raw)) {
    for (const [name, value] of Object.entries(raw)) {
      if (value !== null && value !== undefined && !isPlainObject(value)) {
        findings.error([...path, name], 'should be a map with secret: SECRET_NAME, or empty');
        continue;
      }
      for (const key of Object.keys(value ?? {})) if (key !== 'secret') findings.error([...path, name, key], 'unknown key');
      add(checkSource(name, value?.secret, [...path, name], findings), [...path, name]);
    }
  } else {
    findings.error(path, 'should be a list of sources (NAME or NAME:SECRET_NAME) or a map of NAME: { secret: SECRET_NAME }');
  }
  return out;
}

/** The `auto_deploy:` section found at `path`. */
export function checkAutoDeploy(raw: unknown, path: KeyPath, findings: Findings): AutoDeployConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map with tag, sources and/or poll');
    return undefined;
  }
  const before = findings.issues.length;
  for (const key of Object.keys(raw)) if (!['tag', 'sources', 'poll'].includes(key)) findings.error([...path, key], 'unknown key');
  let tag = '';
  if (raw.tag === undefined || raw.tag === null) findings.error([...path, 'tag'], 'is required (an exact tag like main, a glob like v*, or a semver range like ~1.4)');
  else if (typeof raw.tag === 'number') findings.error([...path, 'tag'], `should be a string: quote it (tag: "${String(raw.tag)}") so YAML keeps it as written (1.10 would read as 1.1)`);
  else {
    try {
      tag = parseTagPattern(raw.tag).text;
    } catch (err) {
      findings.error([...path, 'tag'], err instanceof Error ? err.message : 'is not a tag pattern');
    }
  }
  const sources = checkSources(raw.sources, [...path, 'sources'], findings);
  let poll: number | undefined;
  if (raw.poll !== undefined && raw.poll !== null) {
    poll = parseDuration(raw.poll);
    if (poll === undefined) findings.error([...path, 'poll'], 'should be a duration: seconds (300) or 90s, 5m, 1h, 1d');
    else if (poll < POLL_MIN_S || poll > POLL_MAX_S) findings.error([...path, 'poll'], `should be between 1m and 24h (${POLL_MIN_S}..${POLL_MAX_S} seconds)`);
  }
  if (findings.issues.length > before) return undefined;
  if (sources.length === 0 && poll === undefined) {
    findings.error(path, 'needs sources, poll or both (otherwise nothing could ever trigger a deploy)');
    return undefined;
  }
  return { tag, sources, ...(poll !== undefined ? { poll } : {}) };
}
