// deploy audit: what was done to this service on every server and by which
// key, merged newest first.

import type { AuditEntry } from '../../shared/api-types.js';
import { UserError } from '../../shared/errors.js';
import { readAudit } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostsFailure } from '../rollout/hosts.js';
import { renderTable } from '../output/table.js';
import { sanitize, shortKey } from '../output/style.js';

const DEFAULT_AUDIT_ENTRIES = 50;
const MAX_AUDIT_ENTRIES = 1000;

export type HostAuditEntry = AuditEntry & { host: string };

function entryCount(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_AUDIT_ENTRIES;
  const n = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_AUDIT_ENTRIES)) throw new UserError(`-n must be a whole number from 1 to ${MAX_AUDIT_ENTRIES}, not "${raw.slice(0, 20)}"`, undefined, 'usage');
  return n;
}

/** Newest first across servers; within one server the agent's own order (by id) breaks ties. */
export function mergeAudit(perHost: Array<{ host: string; entries: AuditEntry[] }>, limit: number): HostAuditEntry[] {
  const all = perHost.flatMap(({ host, entries }) => entries.map((e, index) => ({ ...e, host, index })));
  all.sort((a, b) => (a.at === b.at ? (a.host === b.host ? a.index - b.index : a.host < b.host ? -1 : 1) : a.at < b.at ? 1 : -1));
  return all.slice(0, limit).map(({ index: _index, ...e }) => e);
}

function detailValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) return value.map(String).join(',');
  return JSON.stringify(value);
}

/** `deploy=3 version=v2 image=…`: one line, server text sanitized for the terminal. */
export function renderDetail(detail: Record<string, unknown>): string {
  const text = Object.entries(detail ?? {}).map(([k, v]) => `${k}=${detailValue(v)}`).join(' ');
  return sanitize(text, 300);
}

export function renderAuditTable(entries: HostAuditEntry[]): string {
  return renderTable(
    ['TIME', 'HOST', 'KEY', 'ACTION', 'DETAIL'],
    entries.map((e) => [sanitize(e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), 30), e.host, sanitize(shortKey(e.key_id), 12), sanitize(e.action, 40), renderDetail(e.detail)]),
  );
}

export async function audit(ctx: RunContext, options: { lines: string | undefined }): Promise<void> {
  const limit = entryCount(options.lines);
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readAudit(client, { service, destination }, limit));
  const entries = mergeAudit(outcomes.flatMap((o) => (o.ok ? [{ host: o.host, entries: o.value }] : [])), limit);
  if (ctx.json) {
    const errors = outcomes.flatMap((o) => (o.ok ? [] : [{ host: o.host, error: o.error }]));
    ctx.printer.json({ service, destination, entries, ...(errors.length ? { errors } : {}) });
  } else {
    ctx.printer.out(entries.length ? renderAuditTable(entries) : 'no audit entries for this service\n');
  }
  const failure = hostsFailure(outcomes, { doing: 'read the audit log' });
  if (failure) throw failure;
}
