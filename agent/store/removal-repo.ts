// The store side of `deploy remove`. The engine removes containers between
// begin and finish (agent/engine/remove.ts); meanwhile an operator lock with
// REMOVAL_MESSAGE (the removal hold) keeps deploys out, so a release accepted
// mid-removal cannot have its new container deleted under it; `deploy lock
// release` refuses to lift it. seq and history stay: old manifests remain
// refused and the audit keeps what happened.
import { ConflictError } from '../../shared/errors.js';
import { manifestSubject } from '../../shared/manifest.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';
import { readCurrentDeployId, readDeployLock } from './deploys-repo.js';
import { writeRouteRows } from './routes-repo.js';
import type { RemovedRouteRow } from './types.js';
import { REMOVAL_MESSAGE, isRemovalHold, lockedError, readOperatorLock, removingError, type LockInput } from './operator-locks-repo.js';

type RouteRow = RemovedRouteRow;

export function createRemovalRepo(db: Db, now: () => number) {
  // Removals this process is running. A removal hold not in here was left by
  // an agent stopped mid-removal: the next removal takes it over and finishes.
  const inProgress = new Set<string>();
  const keyOf = (a: LockInput) => JSON.stringify([a.service, a.destination]);

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
        const running = readDeployLock(db, a.service, a.destination);
        if (running) {
          throw new ConflictError(
            `${manifestSubject(a.service, a.destination)} is being deployed: deploy ${running.deploy_id} (version ${running.version}, key ${running.key_id}) since ${running.since}`,
            'wait for that deploy to finish, then remove again',
            'locked',
          );
        }
        const held = readOperatorLock(db, a.service, a.destination);
        const since = new Date(now()).toISOString();
        if (held && !isRemovalHold(held)) throw lockedError(held, 'deploy lock release first, then remove again');
        if (held && inProgress.has(keyOf(a))) throw removingError(held, 'wait for that removal to finish');
        if (held) {
          // Stale: this removal takes it over, under its caller's key.
          db.run(
            'UPDATE operator_locks SET key_id = ?, since = ? WHERE service = ? AND destination = ?',
            a.keyId, since, a.service, a.destination,
          );
        } else {
          db.run(
            'INSERT INTO operator_locks (service, destination, key_id, message, since) VALUES (?, ?, ?, ?, ?)',
            a.service, a.destination, a.keyId, REMOVAL_MESSAGE, since,
          );
        }
        const previousCurrent = readCurrentDeployId(db, a.service, a.destination);
        db.run('UPDATE service_seq SET current_deploy_id = NULL WHERE service = ? AND destination = ?', a.service, a.destination);
        inProgress.add(keyOf(a));
        return { previousCurrent };
      });
    },

    /** Deletes the service's route rows (one table version step); returns them for a restore. */
    dropRoutes(service: string, destination: string): RouteRow[] {
      return db.transaction(() => {
        const rows = routeRows(service, destination);
        if (rows.length === 0) return rows;
        writeRouteRows(db, rows.map((r) => ({ ...r, route: null })));
        return rows;
      });
    },

    /** Puts back rows dropRoutes returned (the router refused the new table). */
    restoreRoutes(rows: RouteRow[]): void {
      if (rows.length === 0) return;
      db.transaction(() => writeRouteRows(db, rows));
    },

    /** No maintenance, no pause, lock freed, and one audit row; all or nothing. */
    finish(a: LockInput & { containers: string[]; routes: number }): void {
      db.transaction(() => {
        inProgress.delete(keyOf(a));
        db.run('DELETE FROM maintenance WHERE service = ? AND destination = ?', a.service, a.destination);
        db.run('DELETE FROM pauses WHERE service = ? AND destination = ?', a.service, a.destination);
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

    /**
     * Frees the service again after a removal that could not finish, with its
     * current release back. `failed`: the removal had started removing (routes
     * taken off), so what it did is audited as `service.remove_failed`.
     */
    abort(a: LockInput & { previousCurrent: number | null; failed?: { containers: string[]; error: string } }): void {
      inProgress.delete(keyOf(a));
      db.transaction(() => {
        if (a.failed) {
          insertAudit(db, now(), {
            keyId: a.keyId,
            action: 'service.remove_failed',
            service: a.service,
            destination: a.destination,
            detail: { containers: a.failed.containers, error: a.failed.error },
          });
        }
        if (dropPlaceholder(a).changes === 0) return;
        db.run(
          'UPDATE service_seq SET current_deploy_id = ? WHERE service = ? AND destination = ? AND current_deploy_id IS NULL',
          a.previousCurrent, a.service, a.destination,
        );
      });
    },
  };
}
