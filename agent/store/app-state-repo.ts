// Roles stopped by `deploy app stop` (Kamal's `kamal app stop`): while a row
// exists the role's route is left out of every table sent to the router (its
// hosts get the router's answer for an unrouted host, as after kamal-proxy's
// remove), and nothing the agent does by itself starts its containers again:
// not the start-up reconcile, the replica watch, a bake window or an
// auto-deploy. `deploy app start` or a deploy that goes live (its switch) ends
// it. Stop and start record their audit rows in the same transaction as the change.
import type { AppStoppedRole } from '../../shared/app-state.js';
import { ConflictError } from '../../shared/errors.js';
import { manifestSubject } from '../../shared/manifest.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';
import { readCurrentDeployId, readDeployLock } from './deploys-repo.js';
import { isRemovalHold, lockedError, readOperatorLock, removingError } from './operator-locks-repo.js';
import type { AppStartInput, AppStopInput, Store } from './types.js';

type StoppedRow = AppStoppedRole & { service: string; destination: string } & Record<string, unknown>;

const toRole = (r: StoppedRow): AppStoppedRole => ({ role: r.role, route: r.route, deploy_id: r.deploy_id, key_id: r.key_id, since: r.since });

/** 409 while a deploy runs, a person holds the lock or a removal is under way: stop and start wait their turn as a deploy would. */
export function assertNotHeld(db: Db, service: string, destination: string, verb: string): void {
  const running = readDeployLock(db, service, destination);
  if (running) {
    throw new ConflictError(
      `${manifestSubject(service, destination)} is being deployed: deploy ${running.deploy_id} (version ${running.version}, key ${running.key_id}) since ${running.since}`,
      `wait for that deploy to finish, then ${verb} again`,
      'locked',
    );
  }
  const held = readOperatorLock(db, service, destination);
  if (held && isRemovalHold(held)) throw removingError(held, 'wait for that removal to finish');
  if (held) throw lockedError(held, `deploy lock release first, then ${verb} again`);
}

/** Whether any role of the service is stopped: a bake window then ends rather than judge it. */
export function isAppStopped(db: Db, service: string, destination: string): boolean {
  return db.get('SELECT 1 AS one FROM app_stopped WHERE service = ? AND destination = ? LIMIT 1', service, destination) !== undefined;
}

export function createAppStateRepo(db: Db, now: () => number): Store['appState'] {
  const rows = (service: string, destination: string): StoppedRow[] =>
    db.all<StoppedRow>('SELECT * FROM app_stopped WHERE service = ? AND destination = ? ORDER BY role', service, destination);

  const assertLive = (a: { service: string; destination: string; deployId: number }, verb: string) => {
    assertNotHeld(db, a.service, a.destination, verb);
    if (readCurrentDeployId(db, a.service, a.destination) !== a.deployId) {
      throw new ConflictError(`${manifestSubject(a.service, a.destination)}: another release went live meanwhile`, `${verb} again`, 'locked');
    }
  };

  return {
    /** The stopped roles of a service, by role name. */
    get(service: string, destination: string): AppStoppedRole[] {
      return rows(service, destination).map(toRole);
    },
    /** Router entries left out of the table sent to the router. */
    hiddenRoutes(): string[] {
      return db.all<{ route: string }>('SELECT route FROM app_stopped WHERE route IS NOT NULL ORDER BY route').map((r) => r.route);
    },
    assertNotHeld: (service: string, destination: string, verb: string) => assertNotHeld(db, service, destination, verb),
    /** Marks the roles stopped (keeping `since` of those already stopped) and records `app.stop`. */
    stop(a: AppStopInput): AppStoppedRole[] {
      return db.transaction(() => {
        assertLive(a, 'stop');
        const nowMs = now();
        const since = new Date(nowMs).toISOString();
        const before = new Set(rows(a.service, a.destination).map((r) => r.role));
        for (const r of a.roles) {
          if (before.has(r.role)) continue;
          db.run(
            'INSERT INTO app_stopped (service, destination, role, route, deploy_id, key_id, since) VALUES (?, ?, ?, ?, ?, ?, ?)',
            a.service, a.destination, r.role, r.route, a.deployId, a.keyId, since,
          );
        }
        insertAudit(db, nowMs, {
          keyId: a.keyId,
          action: 'app.stop',
          service: a.service,
          destination: a.destination,
          detail: { version: a.version, roles: a.roles.map((r) => r.role), already_stopped: a.roles.map((r) => r.role).filter((r) => before.has(r)) },
        });
        return rows(a.service, a.destination).map(toRole);
      });
    },
    /** Ends the stop of `roles` and records `app.start`; returns the roles that were stopped. */
    start(a: AppStartInput): AppStoppedRole[] {
      return db.transaction(() => {
        assertLive(a, 'start');
        const ended = rows(a.service, a.destination).filter((r) => a.roles.includes(r.role));
        if (ended.length === 0) return [];
        for (const r of ended) db.run('DELETE FROM app_stopped WHERE service = ? AND destination = ? AND role = ?', a.service, a.destination, r.role);
        insertAudit(db, now(), {
          keyId: a.keyId,
          action: 'app.start',
          service: a.service,
          destination: a.destination,
          detail: { version: a.version, roles: ended.map((r) => r.role), stopped_since: ended[0]!.since },
        });
        return ended.map(toRole);
      });
    },
    /**
     * A deploy's switch: the new release serves, so every stop of the service
     * ends (unrecorded until `resumedBy`, since the switch may still fail and
     * `restore` put them back).
     */
    takeForSwitch(service: string, destination: string): AppStoppedRole[] {
      return db.transaction(() => {
        const ended = rows(service, destination).map(toRole);
        db.run('DELETE FROM app_stopped WHERE service = ? AND destination = ?', service, destination);
        return ended;
      });
    },
    restore(service: string, destination: string, roles: readonly AppStoppedRole[]): void {
      db.transaction(() => {
        for (const r of roles) {
          db.run(
            'INSERT OR IGNORE INTO app_stopped (service, destination, role, route, deploy_id, key_id, since) VALUES (?, ?, ?, ?, ?, ?, ?)',
            service, destination, r.role, r.route, r.deploy_id, r.key_id, r.since,
          );
        }
      });
    },
    /** The audit row of a stop a deploy ended: `app.start` under the deploy's key. */
    resumedBy(service: string, destination: string, deploy: { id: number; version: string; keyId: string }, roles: readonly AppStoppedRole[]): void {
      if (roles.length === 0) return;
      insertAudit(db, now(), {
        keyId: deploy.keyId,
        action: 'app.start',
        service,
        destination,
        detail: { version: deploy.version, roles: roles.map((r) => r.role), by_deploy: deploy.id },
      });
    },
    /** deploy remove: a removed service has nothing stopped. */
    forget(service: string, destination: string): void {
      db.run('DELETE FROM app_stopped WHERE service = ? AND destination = ?', service, destination);
    },
  };
}
