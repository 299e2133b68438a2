// The store side of `deploy remove`. The engine removes containers between
// begin and finish (agent/engine/remove.ts); meanwhile an operator lock with
// REMOVAL_MESSAGE keeps deploys out, so a release accepted mid-removal cannot
// have its new container deleted under it. seq and history stay: old
// manifests remain refused and the audit keeps what happened.
import { ConflictError } from '../../shared/errors.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';
import type { RemovedRouteRow } from './types.js';
import { lockedError, readOperatorLock, type LockInput } from './operator-locks-repo.js';

export const REMOVAL_MESSAGE = 'removing the service (deploy remove)';

type DeployLockRow = { deploy_id: number; since: string; version: string; key_id: string };
type RouteRow = RemovedRouteRow;

const label = (service: string, destination: string) => (destination ? `${service}@${destination}` : service);

export function createRemovalRepo(db: Db, now: () => number) {
  /** Route rows of a service: keyed `service` or `service.role` (agent/core/routes.ts). */
  const routeRows = (service: string, destination: string): RouteRow[] =>
    db.all<RouteRow>(
      'SELECT service, destination, route FROM routes WHERE destination = ? AND (service = ? OR substr(service, 1, ?) = ?)',
      destination, service, service.length + 1, `${service}.`,
    );

  const dropPlaceholder = (a: LockInput) =>
    db.run(
      'DELETE FROM operator_locks WHERE service = ? AND destination = ? AND key_id = ? AND message = ?',
      a.service, a.destination, a.keyId, REMOVAL_MESSAGE,
    );

  return {
    /**
     * Refuses while a deploy or an operator lock holds the service; otherwise
     * holds it for the removal and clears its current release at once, so a
     * bake window still open on it ends instead of reverting mid-removal.
     * Returns the current deploy id for abort to put back.
     */
    begin(a: LockInput): { previousCurrent: number | null } {
      return db.transaction(() => {
        const running = db.get<DeployLockRow>(
          `SELECT l.deploy_id, l.since, d.version, d.key_id FROM locks l JOIN deploys d ON d.id = l.deploy_id
           WHERE l.service = ? AND l.destination = ?`,
          a.service, a.destination,
        );
        if (running) {
          throw new ConflictError(
            `${label(a.service, a.destination)} is being deployed: deploy ${running.deploy_id} (version ${running.version}, key ${running.key_id}) since ${running.since}`,
            'wait for that deploy to finish, then remove again',
            'locked',
          );
        }
        const held = readOperatorLock(db, a.service, a.destination);
        if (held) throw lockedError(held, 'deploy lock release first, then remove again');
        db.run(
          'INSERT INTO operator_locks (service, destination, key_id, message, since) VALUES (?, ?, ?, ?, ?)',
          a.service, a.destination, a.keyId, REMOVAL_MESSAGE, new Date(now()).toISOString(),
        );
        const previousCurrent = db.get<{ current_deploy_id: number | null }>(
          'SELECT current_deploy_id FROM service_seq WHERE service = ? AND destination = ?', a.service, a.destination,
        )?.current_deploy_id ?? null;
        db.run('UPDATE service_seq SET current_deploy_id = NULL WHERE service = ? AND destination = ?', a.service, a.destination);
        return { previousCurrent };
      });
    },

    /** Deletes the service's route rows (one table version step); returns them for a restore. */
    dropRoutes(service: string, destination: string): RouteRow[] {
      return db.transaction(() => {
        const rows = routeRows(service, destination);
        if (rows.length === 0) return rows;
        for (const r of rows) db.run('DELETE FROM routes WHERE service = ? AND destination = ?', r.service, r.destination);
        db.run('UPDATE route_version SET version = version + 1 WHERE id = 1');
        return rows;
      });
    },

    /** Puts back rows dropRoutes returned (the router refused the new table). */
    restoreRoutes(rows: RouteRow[]): void {
      if (rows.length === 0) return;
      db.transaction(() => {
        for (const r of rows) {
          db.run(
            `INSERT INTO routes (service, destination, route) VALUES (?, ?, ?)
             ON CONFLICT (service, destination) DO UPDATE SET route = excluded.route`,
            r.service, r.destination, r.route,
          );
        }
        db.run('UPDATE route_version SET version = version + 1 WHERE id = 1');
      });
    },

    /** No maintenance, lock freed, and one audit row; all or nothing. */
    finish(a: LockInput & { containers: string[]; routes: number }): void {
      db.transaction(() => {
        db.run('DELETE FROM maintenance WHERE service = ? AND destination = ?', a.service, a.destination);
        dropPlaceholder(a);
        insertAudit(db, now(), {
          keyId: a.keyId,
          action: 'service.removed',
          service: a.service,
          destination: a.destination,
          detail: { containers: a.containers, routes: a.routes },
        });
      });
    },

    /** Frees the service again after a removal that could not finish, with its current release back. */
    abort(a: LockInput & { previousCurrent: number | null }): void {
      db.transaction(() => {
        if (dropPlaceholder(a).changes === 0) return;
        db.run(
          'UPDATE service_seq SET current_deploy_id = ? WHERE service = ? AND destination = ? AND current_deploy_id IS NULL',
          a.previousCurrent, a.service, a.destination,
        );
      });
    },
  };
}
