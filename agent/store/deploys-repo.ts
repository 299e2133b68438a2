// Deploy rows, their event log and the per-service lock a running deploy holds.
import type { EventEmitter } from 'node:events';
import { ConflictError, NotFoundError, UserError } from '../../shared/errors.js';
import type { Db } from './db.js';
import { insertAudit } from './audit-repo.js';
import { canMoveDeploy, isFinalDeployState } from '../../shared/api-types.js';
import { DEPLOY_STATES, type DeployEvent, type DeployRecord, type DeployState } from './types.js';

export type DeployRow = Omit<DeployRecord, 'state' | 'trigger'> & { state: string; trigger: string; release_id: number };
type EventRow = { id: number; deploy_id: number; at: string; state: string; message: string; progress: number | null };

const MAX_MESSAGE_LENGTH = 4000;

/** The deploy holding a service's deploy lock, with what a refusal names. */
export type DeployLock = { deploy_id: number; since: string; version: string; key_id: string };

export function readDeployLock(db: Db, service: string, destination: string): DeployLock | undefined {
  return db.get<DeployLock>(
    `SELECT l.deploy_id, l.since, d.version, d.key_id FROM locks l JOIN deploys d ON d.id = l.deploy_id
     WHERE l.service = ? AND l.destination = ?`,
    service, destination,
  );
}

/** The deploy a service serves from (service_seq.current_deploy_id); null when none or never deployed. */
export function readCurrentDeployId(db: Db, service: string, destination: string): number | null {
  return db.get<{ current_deploy_id: number | null }>(
    'SELECT current_deploy_id FROM service_seq WHERE service = ? AND destination = ?',
    service, destination,
  )?.current_deploy_id ?? null;
}

export function toDeployRecord(r: DeployRow): DeployRecord {
  return {
    id: r.id,
    service: r.service,
    destination: r.destination,
    version: r.version,
    seq: r.seq,
    image: r.image,
    state: r.state as DeployState,
    error: r.error,
    key_id: r.key_id,
    created_at: r.created_at,
    updated_at: r.updated_at,
    trigger: r.trigger as DeployRecord['trigger'],
    derived_from: r.derived_from ?? null,
  };
}

function toEvent(r: EventRow): DeployEvent {
  return {
    id: r.id,
    deploy_id: r.deploy_id,
    at: r.at,
    state: r.state as DeployState,
    message: r.message,
    ...(r.progress === null ? {} : { progress: r.progress }),
  };
}

function checkState(state: string): asserts state is DeployState {
  if (!(DEPLOY_STATES as readonly string[]).includes(state)) throw new UserError(`unknown deploy state ${state}`);
}

/** Inserts an event row without emitting; the caller emits after its transaction commits. */
export function insertEvent(
  db: Db, nowMs: number, deployId: number, state: DeployState, message: string, progress?: number,
): DeployEvent {
  checkState(state);
  const text = message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}…` : message;
  const p = progress === undefined || !Number.isFinite(progress) ? null : Math.min(100, Math.max(0, progress));
  const at = new Date(nowMs).toISOString();
  const { lastInsertRowid } = db.run(
    'INSERT INTO deploy_events (deploy_id, at, state, message, progress) VALUES (?, ?, ?, ?, ?)',
    deployId, at, state, text, p,
  );
  return toEvent({ id: lastInsertRowid, deploy_id: deployId, at, state, message: text, progress: p });
}

export function createDeploysRepo(db: Db, now: () => number, bus: EventEmitter) {
  const getDeploy = (id: number): DeployRecord | undefined => {
    const r = db.get<DeployRow>('SELECT * FROM deploys WHERE id = ?', id);
    return r ? toDeployRecord(r) : undefined;
  };
  const mustGet = (id: number): DeployRecord => {
    const d = getDeploy(id);
    if (!d) throw new NotFoundError(`deploy ${id} not found`);
    return d;
  };

  return {
    getDeploy,
    events(deployId: number, afterId = 0): DeployEvent[] {
      return db
        .all<EventRow>('SELECT * FROM deploy_events WHERE deploy_id = ? AND id > ? ORDER BY id', deployId, afterId)
        .map(toEvent);
    },
    addEvent(deployId: number, state: DeployState, message: string, progress?: number): DeployEvent {
      mustGet(deployId);
      const event = insertEvent(db, now(), deployId, state, message, progress);
      bus.emit('event', event);
      return event;
    },
    setState(deployId: number, state: DeployState, error?: string): DeployRecord {
      checkState(state);
      const record = db.transaction(() => {
        const before = mustGet(deployId);
        if (!canMoveDeploy(before.state, state)) {
          throw new ConflictError(`deploy ${deployId} cannot go from ${before.state} to ${state}`, undefined, 'illegal_transition');
        }
        const nowMs = now();
        db.run(
          'UPDATE deploys SET state = ?, error = COALESCE(?, error), updated_at = ? WHERE id = ?',
          state, error ?? null, new Date(nowMs).toISOString(), deployId,
        );
        // Every step of a deploy is attributed to the key that signed its release.
        if (before.state !== state) {
          insertAudit(db, nowMs, {
            keyId: before.key_id,
            action: `deploy.${state}`,
            service: before.service,
            destination: before.destination,
            detail: { deploy: deployId, version: before.version, trigger: before.trigger, ...(error ? { error } : {}) },
          });
        }
        // The lock lives exactly as long as the deploy is unfinished.
        if (isFinalDeployState(state)) db.run('DELETE FROM locks WHERE deploy_id = ?', deployId);
        return mustGet(deployId);
      });
      if (isFinalDeployState(state)) bus.emit('final', record);
      return record;
    },
    unfinishedDeploys(): DeployRecord[] {
      return db
        .all<DeployRow>("SELECT * FROM deploys WHERE state NOT IN ('DONE', 'REVERTED') ORDER BY id")
        .map(toDeployRecord);
    },
  };
}

/** The newest deploy of a service, whatever its state (unfinished ones too); undefined when it has none. */
export function readLatestDeploy(db: Db, service: string, destination: string): DeployRecord | undefined {
  const r = db.get<DeployRow>(
    'SELECT * FROM deploys WHERE service = ? AND destination = ? ORDER BY id DESC LIMIT 1',
    service, destination,
  );
  return r ? toDeployRecord(r) : undefined;
}

/** Finished deploys per service, destination and final state (DONE, REVERTED): one indexed scan, for the metrics. */
export function readDeployOutcomes(db: Db): Array<{ service: string; destination: string; state: DeployState; count: number }> {
  return db.all<{ service: string; destination: string; state: DeployState; count: number }>(
    `SELECT service, destination, state, COUNT(*) AS count FROM deploys WHERE state IN ('DONE', 'REVERTED')
     GROUP BY service, destination, state ORDER BY service, destination, state`,
  );
}
