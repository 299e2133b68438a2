// The messages between the router's cluster primary and its workers (node:cluster
// IPC; docs/router.md "Workers"). Both sides are the same binary, so this is no
// trust boundary; each side still checks a message's shape before acting on it
// and drops (and logs) one that does not fit, rather than acting on half of it.

import { parseCertificateInput, type CertificateInput } from './certificates.js';
import { parseRouteSet } from './table.js';
import type { RouteSet } from './types.js';

export interface ErrorPageEntry {
  hash: string;
  html: string;
}

function errorPageEntry(v: unknown): ErrorPageEntry {
  if (!isObject(v) || !isString(v['hash'], 64) || typeof v['html'] !== 'string') throw new Error('bad error page entry');
  return { hash: v['hash'], html: v['html'] };
}

export interface ChallengeEntry {
  token: string;
  host: string;
  key_authorization: string;
  expires_at: number;
}

/** One service's counters in one worker (agent/router/metrics.ts). */
export interface SlotCounts {
  /** By code class, as CODE_CLASSES in metrics.ts. */
  requests: number[];
  /** Histogram bucket counts (not cumulative), the last one +Inf. */
  buckets: number[];
  sum: number;
  count: number;
  inflight: number;
}

export interface MetricsCounts {
  slots: Record<string, SlotCounts>;
  /** Targets this worker last saw fail. */
  down: string[];
  /** Client connections open on this worker. */
  open: number;
}

/** Primary → worker. Those with `id` are answered by a Reply with the same id. */
export type PrimaryMessage =
  | { t: 'init'; id: number; set: RouteSet; certificates: Array<{ id: string; input: CertificateInput }>; challenges: ChallengeEntry[]; metrics: boolean; pages: ErrorPageEntry[] }
  | { t: 'prepare'; id: number; set: RouteSet }
  | { t: 'commit'; id: number; version: number }
  | { t: 'abort'; version: number }
  | { t: 'challenge-put'; id: number; entry: ChallengeEntry }
  | { t: 'challenge-delete'; id: number; token: string }
  | { t: 'cert-put'; id: number; cert: string; input: CertificateInput }
  | { t: 'cert-delete'; id: number; cert: string }
  /** An error page the primary checked and stored (agent/router/error-pages.ts); the worker checks it again. */
  | { t: 'page-put'; id: number; page: ErrorPageEntry }
  | { t: 'targets'; id: number }
  | { t: 'metrics'; id: number }
  /** Answers to `conns`: per connection id, whether it may be served. */
  | { t: 'grants'; grants: Array<[conn: number, ok: boolean]> }
  | { t: 'stop' };

/** Worker → primary. */
export type WorkerMessage =
  /** Listening for messages: a message sent before would be lost. */
  | { t: 'hello' }
  | { t: 'reply'; id: number; ok: boolean; value?: unknown; message?: string }
  /** Connections accepted (asking for a slot) and closed (giving one back) since the last such message, by address key. */
  | { t: 'conns'; open: Array<[conn: number, key: string]>; close: string[] };

/** Entries in one `conns` or `grants` message at most (a worker sends what one event loop turn accepted). */
export const MAX_BATCH = 100_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isString = (v: unknown, max = 1024): v is string => typeof v === 'string' && v.length <= max;

function challengeEntry(v: unknown): ChallengeEntry {
  if (!isObject(v) || !isString(v['token']) || !isString(v['host']) || !isString(v['key_authorization']) || !isInt(v['expires_at'])) {
    throw new Error('bad challenge entry');
  }
  return { token: v['token'], host: v['host'], key_authorization: v['key_authorization'], expires_at: v['expires_at'] };
}

/** A primary message checked for shape, or an Error naming what is wrong. */
export function parsePrimaryMessage(m: unknown): PrimaryMessage {
  if (!isObject(m) || typeof m['t'] !== 'string') throw new Error('not a message');
  const id = m['id'];
  const needId = (): number => {
    if (!isInt(id)) throw new Error(`${String(m['t'])}: bad id`);
    return id;
  };
  switch (m['t']) {
    case 'init': {
      const certs = m['certificates'];
      const challenges = m['challenges'];
      if (!Array.isArray(certs) || !Array.isArray(challenges) || typeof m['metrics'] !== 'boolean') throw new Error('init: bad shape');
      return {
        t: 'init', id: needId(), set: parseRouteSet(m['set']), metrics: m['metrics'],
        certificates: certs.map((c: unknown) => {
          if (!isObject(c) || !isString(c['id'])) throw new Error('init: bad certificate');
          return { id: c['id'], input: parseCertificateInput(c['input']) };
        }),
        challenges: challenges.map(challengeEntry),
        pages: Array.isArray(m['pages']) ? m['pages'].map(errorPageEntry) : [],
      };
    }
    case 'prepare':
      return { t: 'prepare', id: needId(), set: parseRouteSet(m['set']) };
    case 'commit':
      if (!isInt(m['version'])) throw new Error('commit: bad version');
      return { t: 'commit', id: needId(), version: m['version'] };
    case 'abort':
      if (!isInt(m['version'])) throw new Error('abort: bad version');
      return { t: 'abort', version: m['version'] };
    case 'challenge-put':
      return { t: 'challenge-put', id: needId(), entry: challengeEntry(m['entry']) };
    case 'challenge-delete':
      if (!isString(m['token'])) throw new Error('challenge-delete: bad token');
      return { t: 'challenge-delete', id: needId(), token: m['token'] };
    case 'cert-put':
      if (!isString(m['cert'])) throw new Error('cert-put: bad id');
      return { t: 'cert-put', id: needId(), cert: m['cert'], input: parseCertificateInput(m['input']) };
    case 'cert-delete':
      if (!isString(m['cert'])) throw new Error('cert-delete: bad id');
      return { t: 'cert-delete', id: needId(), cert: m['cert'] };
    case 'page-put':
      return { t: 'page-put', id: needId(), page: errorPageEntry(m['page']) };
    case 'targets':
    case 'metrics':
      return { t: m['t'], id: needId() };
    case 'grants': {
      const grants = m['grants'];
      if (!Array.isArray(grants) || grants.length > MAX_BATCH) throw new Error('grants: bad shape');
      for (const g of grants) if (!Array.isArray(g) || g.length !== 2 || !isInt(g[0]) || typeof g[1] !== 'boolean') throw new Error('grants: bad entry');
      return { t: 'grants', grants: grants as Array<[number, boolean]> };
    }
    case 'stop':
      return { t: 'stop' };
    default:
      throw new Error(`unknown message ${JSON.stringify(String(m['t']).slice(0, 40))}`);
  }
}

/** A worker message checked for shape, or an Error naming what is wrong. */
export function parseWorkerMessage(m: unknown): WorkerMessage {
  if (!isObject(m) || typeof m['t'] !== 'string') throw new Error('not a message');
  switch (m['t']) {
    case 'hello':
      return { t: 'hello' };
    case 'reply': {
      if (!isInt(m['id']) || typeof m['ok'] !== 'boolean') throw new Error('reply: bad shape');
      const message = isString(m['message'], 4096) ? m['message'] : undefined;
      return { t: 'reply', id: m['id'], ok: m['ok'], value: m['value'], ...(message !== undefined ? { message } : {}) };
    }
    case 'conns': {
      const open = m['open'];
      const close = m['close'];
      if (!Array.isArray(open) || !Array.isArray(close) || open.length > MAX_BATCH || close.length > MAX_BATCH) throw new Error('conns: bad shape');
      for (const o of open) if (!Array.isArray(o) || o.length !== 2 || !isInt(o[0]) || !isString(o[1], 100)) throw new Error('conns: bad open entry');
      if (!close.every((k) => isString(k, 100))) throw new Error('conns: bad close entry');
      return { t: 'conns', open: open as Array<[number, string]>, close: close as string[] };
    }
    default:
      throw new Error(`unknown message ${JSON.stringify(String(m['t']).slice(0, 40))}`);
  }
}

/** A worker's in-flight counts per target (the `targets` reply). */
export function parseCounts(v: unknown): Record<string, number> {
  if (!isObject(v)) throw new Error('targets: bad reply');
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(v)) {
    if (!isInt(n)) throw new Error('targets: bad count');
    out[k] = n;
  }
  return out;
}

/** A worker's metrics (the `metrics` reply). */
export function parseMetricsCounts(v: unknown, buckets: number, classes: number): MetricsCounts {
  if (!isObject(v) || !isObject(v['slots']) || !Array.isArray(v['down']) || !isInt(v['open'])) throw new Error('metrics: bad reply');
  const nums = (a: unknown, n: number): a is number[] => Array.isArray(a) && a.length === n && a.every(isInt);
  const slots: Record<string, SlotCounts> = {};
  for (const [service, s] of Object.entries(v['slots'])) {
    if (!isObject(s) || !nums(s['requests'], classes) || !nums(s['buckets'], buckets) || typeof s['sum'] !== 'number' || !isInt(s['count']) || !isInt(s['inflight'])) {
      throw new Error('metrics: bad slot');
    }
    slots[service] = { requests: s['requests'], buckets: s['buckets'], sum: s['sum'], count: s['count'], inflight: s['inflight'] };
  }
  return { slots, down: v['down'].filter((d): d is string => isString(d)), open: v['open'] };
}
