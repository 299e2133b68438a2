// Reads a running agent's audit rows straight from its SQLite file, opened
// read-only, for e2e tests written before GET /v1/audit existed. Swap for a
// signed GET /v1/audit once the agent serves it.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { AuditEntry } from '../../shared/api-types.js';

export function readAudit(stateDir: string, action?: string): AuditEntry[] {
  const db = new Database(join(stateDir, 'berth.db'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db
      .prepare(`SELECT * FROM audit ${action ? 'WHERE action = ?' : ''} ORDER BY id`)
      .all(...(action ? [action] : [])) as Array<Omit<AuditEntry, 'detail'> & { detail: string }>;
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  } finally {
    db.close();
  }
}
