// Maintenance mode per service and destination: while a row exists the router
// answers the service's hosts with 503 (agent/engine/route-publisher.ts merges
// these rows into every route set it sends). Each change records its audit row
// in the same transaction.
import type { MaintenanceState } from '../../shared/api-types.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';

type MaintenanceRow = MaintenanceState & Record<string, unknown>;

export interface MaintenanceOn {
  service: string;
  destination: string;
  keyId: string;
  message: string;
}

export interface MaintenanceOff {
  service: string;
  destination: string;
  keyId: string;
}

const toState = (r: MaintenanceRow): MaintenanceState => ({
  service: r.service,
  destination: r.destination,
  key_id: r.key_id,
  message: r.message,
  since: r.since,
});

export function createMaintenanceRepo(db: Db, now: () => number) {
  const get = (service: string, destination: string): MaintenanceState | null => {
    const row = db.get<MaintenanceRow>('SELECT * FROM maintenance WHERE service = ? AND destination = ?', service, destination);
    return row ? toState(row) : null;
  };

  return {
    get,
    all(): MaintenanceState[] {
      return db.all<MaintenanceRow>('SELECT * FROM maintenance ORDER BY service, destination').map(toState);
    },
    /**
     * Turns maintenance on, or changes its message (keeping `since`, as the
     * maintenance goes on). The same message again changes nothing and records nothing.
     */
    set(on: MaintenanceOn): { state: MaintenanceState; changed: boolean } {
      return db.transaction(() => {
        const before = get(on.service, on.destination);
        if (before && before.message === on.message) return { state: before, changed: false };
        const nowMs = now();
        const since = before?.since ?? new Date(nowMs).toISOString();
        db.run(
          `INSERT INTO maintenance (service, destination, key_id, message, since) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (service, destination) DO UPDATE SET key_id = excluded.key_id, message = excluded.message`,
          on.service, on.destination, on.keyId, on.message, since,
        );
        insertAudit(db, nowMs, {
          keyId: on.keyId,
          action: 'maintenance.on',
          service: on.service,
          destination: on.destination,
          detail: before ? { message: on.message, previous_message: before.message } : { message: on.message },
        });
        return { state: { service: on.service, destination: on.destination, key_id: on.keyId, message: on.message, since }, changed: true };
      });
    },
    /** Ends maintenance; returns what was cleared, or null (and records nothing) when it was off. */
    clear(off: MaintenanceOff): MaintenanceState | null {
      return db.transaction(() => {
        const before = get(off.service, off.destination);
        if (!before) return null;
        db.run('DELETE FROM maintenance WHERE service = ? AND destination = ?', off.service, off.destination);
        insertAudit(db, now(), {
          keyId: off.keyId,
          action: 'maintenance.off',
          service: off.service,
          destination: off.destination,
          detail: { since: before.since, message: before.message },
        });
        return before;
      });
    },
  };
}
