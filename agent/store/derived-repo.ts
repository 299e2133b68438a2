// Releases the agent makes by itself (docs/internals.md "Bake window"): no
// operator signed them, so they reuse a stored signed release row and are
// recorded as derived from the deploy that caused them. A bake-window revert
// is a new deploy of the release that was current before the baked one.
import type { EventEmitter } from 'node:events';
import { AGENT_ACTOR } from '../../shared/api-types.js';
import { manifestSubject } from '../../shared/manifest.js';
import type { Db } from './db.js';
import { isAppStopped } from './app-state-repo.js';
import { insertAudit } from './audit-repo.js';
import { insertEvent, readCurrentDeployId, readDeployLock, toDeployRecord, type DeployRow } from './deploys-repo.js';
import type { BakeFailureInput, BakeFailureOutcome, DeployRecord } from './types.js';

export function createDerivedRepo(db: Db, now: () => number, bus: EventEmitter) {
  const row = (id: number) => db.get<DeployRow & { bake_failed: number }>('SELECT * FROM deploys WHERE id = ?', id);

  /** Why the baked deploy is no longer the one to act on, or undefined while it still is. */
  function bakeOverWhy(baked: DeployRow & { bake_failed: number }): string | undefined {
    const current = readCurrentDeployId(db, baked.service, baked.destination);
    if (current !== baked.id) return `deploy ${current ?? 'none'} is current now`;
    const lock = readDeployLock(db, baked.service, baked.destination);
    if (lock) return `deploy ${lock.deploy_id} holds the deploy lock`;
    if (baked.state !== 'DONE') return `deploy ${baked.id} is ${baked.state}, not DONE`;
    if (isAppStopped(db, baked.service, baked.destination)) return 'the app was stopped (deploy app stop)';
    // A bake that failed with nothing to go back to stays failed across restarts.
    if (baked.bake_failed !== 0) return `its bake already failed (audit ${baked.bake_failed})`;
    return undefined;
  }

  return {
    /**
     * The deploy that was current before `deployId`: the last one of the same
     * service and destination, started before it, that went live (DONE).
     * Deploys take the lock one at a time, so that is the one it replaced.
     */
    previousLive(deployId: number): DeployRecord | undefined {
      const d = row(deployId);
      if (!d) return undefined;
      const prev = db.get<DeployRow>(
        `SELECT * FROM deploys WHERE service = ? AND destination = ? AND id < ? AND state = 'DONE'
         ORDER BY id DESC LIMIT 1`,
        d.service, d.destination, d.id,
      );
      return prev ? toDeployRecord(prev) : undefined;
    },

    /** Undefined while a bake of the deploy may go on (current, DONE, unlocked, not failed yet); else why not. */
    bakeOver(bakedDeployId: number): string | undefined {
      const baked = row(bakedDeployId);
      return baked ? bakeOverWhy(baked) : `deploy ${bakedDeployId} not found`;
    },

    /**
     * One transaction: unless the service moved on, the audit row `bake.failed`
     * and, when there is a release to go back to, a new deploy of it (trigger
     * bake-revert, key `agent`) holding the deploy lock. Operator locks are not
     * consulted: switching back is a safety action.
     */
    bakeFailed(a: BakeFailureInput): BakeFailureOutcome {
      const { outcome, event } = db.transaction((): { outcome: BakeFailureOutcome; event?: ReturnType<typeof insertEvent> } => {
        const baked = row(a.bakedDeployId);
        if (!baked) return { outcome: { kind: 'over', why: `deploy ${a.bakedDeployId} not found` } };
        const over = bakeOverWhy(baked);
        if (over) return { outcome: { kind: 'over', why: over } };
        const nowMs = now();
        const audit = (revertedTo: string | null, extra: Record<string, unknown>) => {
          const entry = insertAudit(db, nowMs, {
            keyId: AGENT_ACTOR,
            action: 'bake.failed',
            service: baked.service,
            destination: baked.destination,
            detail: { deploy: baked.id, version: baked.version, reason: a.reason, reverted_to: revertedTo, ...extra },
          });
          db.run('UPDATE deploys SET bake_failed = ? WHERE id = ?', entry.id, baked.id);
        };

        const target = a.revertToDeployId === null ? undefined : row(a.revertToDeployId);
        const why = !target
          ? 'nothing to revert to: no release was live before it'
          : target.service !== baked.service || target.destination !== baked.destination || target.id >= baked.id
            ? `nothing to revert to: deploy ${target.id} is not an earlier deploy of ${manifestSubject(baked.service, baked.destination)}`
            : target.version === baked.version
              ? `nothing to revert to: the release live before it was ${target.version} too`
              : undefined;
        if (!target || why) {
          const text = why ?? 'nothing to revert to';
          audit(null, { note: text });
          return { outcome: { kind: 'nothing-to-revert', why: text } };
        }

        const at = new Date(nowMs).toISOString();
        const deployId = db.run(
          `INSERT INTO deploys (release_id, service, destination, version, seq, image, state, error, key_id, created_at, updated_at, trigger, derived_from)
           VALUES (?, ?, ?, ?, ?, ?, 'RECEIVED', NULL, ?, ?, ?, 'bake-revert', ?)`,
          target.release_id, target.service, target.destination, target.version, target.seq, target.image, AGENT_ACTOR, at, at, baked.id,
        ).lastInsertRowid;
        audit(target.version, { revert_deploy: deployId });
        const event = insertEvent(
          db, nowMs, deployId, 'RECEIVED',
          `bake window of deploy ${baked.id} (${baked.version}) failed: ${a.reason}; switching back to ${target.version} (release seq ${target.seq})`,
        );
        db.run('INSERT INTO locks (service, destination, deploy_id, since) VALUES (?, ?, ?, ?)', baked.service, baked.destination, deployId, at);
        const made = row(deployId);
        if (!made) throw new Error('deploy row vanished inside its own transaction');
        return { outcome: { kind: 'reverting', deploy: toDeployRecord(made) }, event };
      });
      if (event) bus.emit('event', event);
      return outcome;
    },
  };
}
