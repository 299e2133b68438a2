// Releases the agent derives from a webhook (agent/webhooks/intake.ts): the
// current release's stored payload with only the image (pinned to the digest
// the registry gave) and the version changed. No operator signed it, so it
// keeps the base release's signed JWS as its authority and the base's seq,
// with the next local revision of that seq; the deploy is recorded as derived
// from the deploy that served before it.
import type { EventEmitter } from 'node:events';
import type { Db } from './db.js';
import { insertAudit } from './audit-repo.js';
import { insertEvent, readCurrentDeployId, readDeployLock, toDeployRecord, type DeployRow } from './deploys-repo.js';
import { describeOperatorLock, readOperatorLock } from './operator-locks-repo.js';
import type { DeployRecord, WebhookReleaseInput, WebhookReleaseOutcome } from './types.js';

export function createWebhookReleaseRepo(db: Db, now: () => number, bus: EventEmitter) {
  return {
    /** Whether a webhook deploy of `image` failed, was reverted or failed its bake: it is not retried until the tag moves. */
    failedBefore(service: string, destination: string, image: string): DeployRecord | undefined {
      const r = db.get<DeployRow>(
        `SELECT * FROM deploys WHERE service = ? AND destination = ? AND trigger = 'webhook' AND image = ?
           AND (state IN ('FAILED', 'REVERTED') OR bake_failed <> 0) ORDER BY id DESC LIMIT 1`,
        service, destination, image,
      );
      return r ? toDeployRecord(r) : undefined;
    },

    /** One transaction: the derived release (or the existing one of that version and image), its deploy, the lock, the audit row. */
    deployWebhookRelease(a: WebhookReleaseInput): WebhookReleaseOutcome {
      const p = a.payload;
      const { outcome, event } = db.transaction((): { outcome: WebhookReleaseOutcome; event?: ReturnType<typeof insertEvent> } => {
        const base = db.get<DeployRow>('SELECT * FROM deploys WHERE id = ?', a.baseDeployId);
        const current = readCurrentDeployId(db, p.service, p.destination);
        if (!base || current !== base.id) return { outcome: { kind: 'moved', why: `deploy ${current ?? 'none'} is current now` } };
        const lock = readDeployLock(db, p.service, p.destination);
        if (lock) return { outcome: { kind: 'busy', deployId: lock.deploy_id } };
        // Kamal's `lock` stops every deploy a person did not take; an automatic one too.
        const held = readOperatorLock(db, p.service, p.destination);
        if (held) return { outcome: { kind: 'locked', why: describeOperatorLock(held) } };

        const same = db.get<{ id: number; image: string }>(
          'SELECT id, image FROM releases WHERE service = ? AND destination = ? AND version = ? ORDER BY id DESC LIMIT 1',
          p.service, p.destination, p.version,
        );
        if (same && same.image !== p.image) {
          return { outcome: { kind: 'conflict', why: `version ${p.version} was already released with image ${same.image}` } };
        }
        const nowMs = now();
        const at = new Date(nowMs).toISOString();
        let releaseId = same?.id;
        if (releaseId === undefined) {
          const baseRelease = db.get<{ jws: string }>('SELECT jws FROM releases WHERE id = ?', base.release_id);
          if (!baseRelease) throw new Error(`release ${base.release_id} of deploy ${base.id} not found`);
          const revision = (db.get<{ r: number | null }>(
            'SELECT MAX(revision) AS r FROM releases WHERE service = ? AND destination = ? AND seq = ?',
            p.service, p.destination, base.seq,
          )?.r ?? 0) + 1;
          releaseId = db.run(
            `INSERT INTO releases (service, destination, version, seq, image, key_id, jws, payload, created_at, revision)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            p.service, p.destination, p.version, base.seq, p.image, a.keyId, baseRelease.jws, JSON.stringify(p), at, revision,
          ).lastInsertRowid;
        }
        const deployId = db.run(
          `INSERT INTO deploys (release_id, service, destination, version, seq, image, state, error, key_id, created_at, updated_at, trigger, derived_from)
           VALUES (?, ?, ?, ?, ?, ?, 'RECEIVED', NULL, ?, ?, ?, 'webhook', ?)`,
          releaseId, p.service, p.destination, p.version, base.seq, p.image, a.keyId, at, at, base.id,
        ).lastInsertRowid;
        insertAudit(db, nowMs, {
          keyId: a.keyId,
          action: 'webhook.deploy',
          service: p.service,
          destination: p.destination,
          detail: {
            delivery: a.deliveryId, source: a.source, tag: a.tag, digest: a.digest, version: p.version, deploy: deployId,
            derived_from: base.id,
          },
        });
        const event = insertEvent(
          db, nowMs, deployId, 'RECEIVED',
          `webhook delivery ${a.deliveryId} (${a.source}): tag ${a.tag} is ${a.digest}; release ${p.version} derived from deploy ${base.id} (${base.version}, seq ${base.seq})`,
        );
        db.run('INSERT INTO locks (service, destination, deploy_id, since) VALUES (?, ?, ?, ?)', p.service, p.destination, deployId, at);
        const made = db.get<DeployRow>('SELECT * FROM deploys WHERE id = ?', deployId);
        if (!made) throw new Error('deploy row vanished inside its own transaction');
        return { outcome: { kind: 'deploying', deploy: toDeployRecord(made) }, event };
      });
      if (event) bus.emit('event', event);
      return outcome;
    },
  };
}
