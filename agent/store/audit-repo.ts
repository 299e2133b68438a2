// The audit log: one row per action taken on this agent, with the key id that
// signed it (AGENT_ACTOR for the agent's own decisions, LOCAL_ACTOR for
// `berth-agent trust` run on the server). Rows are only ever appended.
import type { AuditEntry } from '../../shared/api-types.js';
import type { Db } from './db.js';

type AuditRow = Omit<AuditEntry, 'detail'> & { detail: string };

export interface AuditInput {
  keyId: string;
  action: string;
  service?: string;
  destination?: string;
  detail?: Record<string, unknown>;
}

export interface AuditQuery {
  service?: string;
  destination?: string;
  /** Only rows with a smaller id (paging backwards). */
  beforeId?: number;
  limit: number;
}

export const MAX_AUDIT_LIMIT = 1000;
const MAX_DETAIL_CHARS = 4000;

function toEntry(r: AuditRow): AuditEntry {
  let detail: Record<string, unknown> = {};
  try {
    detail = JSON.parse(r.detail) as Record<string, unknown>;
  } catch {
    detail = { unreadable: r.detail.slice(0, 200) };
  }
  return { id: r.id, at: r.at, key_id: r.key_id, action: r.action, service: r.service, destination: r.destination, detail };
}

/** Inserts one row; call inside the transaction of the action it records, so both commit or neither. */
export function insertAudit(db: Db, nowMs: number, e: AuditInput): AuditEntry {
  let detail = JSON.stringify(e.detail ?? {});
  // Free text (lock messages, exec commands) is bounded so one caller cannot grow rows without limit.
  if (detail.length > MAX_DETAIL_CHARS) detail = JSON.stringify({ truncated: detail.slice(0, MAX_DETAIL_CHARS) });
  const at = new Date(nowMs).toISOString();
  const row = { at, key_id: e.keyId, action: e.action, service: e.service ?? '', destination: e.destination ?? '', detail };
  const { lastInsertRowid } = db.run(
    'INSERT INTO audit (at, key_id, action, service, destination, detail) VALUES (?, ?, ?, ?, ?, ?)',
    row.at, row.key_id, row.action, row.service, row.destination, row.detail,
  );
  return toEntry({ id: lastInsertRowid, ...row });
}

export function createAuditRepo(db: Db, now: () => number) {
  return {
    record(e: AuditInput): AuditEntry {
      return insertAudit(db, now(), e);
    },
    /** Newest first. A service filter matches that service and destination exactly. */
    list(q: AuditQuery): AuditEntry[] {
      const limit = Math.max(1, Math.min(MAX_AUDIT_LIMIT, Math.floor(q.limit)));
      const where: string[] = [];
      const params: Array<string | number> = [];
      if (q.service !== undefined) {
        where.push('service = ? AND destination = ?');
        params.push(q.service, q.destination ?? '');
      }
      if (q.beforeId !== undefined) {
        where.push('id < ?');
        params.push(q.beforeId);
      }
      const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return db.all<AuditRow>(sql, ...params, limit).map(toEntry);
    },
  };
}
