// The desired route table the agent owns, with the monotonic version the router checks.
import { UserError } from '../../shared/errors.js';
import type { Db } from './db.js';
import type { Route } from './types.js';

/** A route row to write: the Route as JSON, or null to delete the row. */
type RouteRowWrite = { service: string; destination: string; route: string | null };

/**
 * Sets or deletes each row, then one table version step. Runs in the caller's
 * transaction, so a multi-row change reaches the router as one table.
 */
export function writeRouteRows(db: Db, rows: readonly RouteRowWrite[]): void {
  for (const r of rows) {
    if (r.route !== null) {
      db.run(
        `INSERT INTO routes (service, destination, route) VALUES (?, ?, ?)
         ON CONFLICT (service, destination) DO UPDATE SET route = excluded.route`,
        r.service, r.destination, r.route,
      );
    } else {
      db.run('DELETE FROM routes WHERE service = ? AND destination = ?', r.service, r.destination);
    }
  }
  db.run('UPDATE route_version SET version = version + 1 WHERE id = 1');
}

export function createRoutesRepo(db: Db) {
  const version = (): number => db.get<{ version: number }>('SELECT version FROM route_version WHERE id = 1')?.version ?? 0;

  return {
    all(): Route[] {
      return db
        .all<{ route: string }>('SELECT route FROM routes ORDER BY service, destination')
        .map((r) => JSON.parse(r.route) as Route);
    },
    /** Sets or (with null) removes the route of a service; returns the new table version. */
    set(service: string, destination: string, route: Route | null): number {
      return db.transaction(() => {
        writeRouteRows(db, [{ service, destination, route: route ? JSON.stringify(route) : null }]);
        return version();
      });
    },
    version,
    /**
     * Lifts the version to at least `min` (never lowers it) and returns it. The
     * engine calls this with router version + 1 when the router is ahead, e.g.
     * after the agent's database was restored from an older backup.
     */
    raiseVersion(min: number): number {
      if (!Number.isSafeInteger(min) || min < 0) throw new UserError('route version must be a non-negative integer');
      return db.transaction(() => {
        db.run('UPDATE route_version SET version = MAX(version, ?) WHERE id = 1', min);
        return version();
      });
    },
  };
}
