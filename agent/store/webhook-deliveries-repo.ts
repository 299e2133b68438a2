// Webhook deliveries and what became of them (agent/webhooks/intake.ts): the
// last MAX_DELIVERIES per service and destination, pruned on insert, so a
// flood of deliveries cannot grow the database.
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { WebhookDelivery, WebhookDeliveryOutcome } from '../../shared/api-types.js';
import type { Db } from './db.js';

export const MAX_DELIVERIES = 200;
const MAX_REASON_CHARS = 500;

export interface NewDelivery {
  service: string;
  destination: string;
  source: string;
  senderDeliveryId?: string | undefined;
  outcome: WebhookDeliveryOutcome;
  reason?: string;
  tag?: string | undefined;
}

export interface DeliveryUpdate {
  outcome: WebhookDeliveryOutcome;
  reason?: string;
  tag?: string | null;
  digest?: string | null;
  deployId?: number | null;
}

type DeliveryRow = Omit<WebhookDelivery, 'outcome'> & { n: number; outcome: string };

const bounded = (text: string) => (text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text);

function toDelivery(r: DeliveryRow): WebhookDelivery {
  return {
    id: r.id, at: r.at, service: r.service, destination: r.destination, source: r.source,
    sender_delivery_id: r.sender_delivery_id, outcome: r.outcome as WebhookDeliveryOutcome, reason: r.reason,
    tag: r.tag, digest: r.digest, deploy_id: r.deploy_id,
  };
}

/** The bus event of a delivery reaching an outcome other than `queued`: {service, destination, outcome}. */
export const DELIVERY_SETTLED = 'webhook-delivery-settled';
export interface DeliverySettled {
  service: string;
  destination: string;
  outcome: WebhookDeliveryOutcome;
}

export function createWebhookDeliveriesRepo(db: Db, now: () => number, bus?: EventEmitter) {
  const settled = (e: DeliverySettled): void => {
    if (e.outcome !== 'queued') bus?.emit(DELIVERY_SETTLED, { service: e.service, destination: e.destination, outcome: e.outcome });
  };
  return {
    /** Inserts a delivery (id `whd_…`) and drops the oldest beyond MAX_DELIVERIES of its service. */
    record(d: NewDelivery): WebhookDelivery {
      const id = `whd_${randomBytes(12).toString('base64url')}`;
      const delivery = db.transaction(() => {
        db.run(
          `INSERT INTO webhook_deliveries (id, at, service, destination, source, sender_delivery_id, outcome, reason, tag)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          id, new Date(now()).toISOString(), d.service, d.destination, d.source, d.senderDeliveryId ?? null,
          d.outcome, bounded(d.reason ?? ''), d.tag ?? null,
        );
        db.run(
          `DELETE FROM webhook_deliveries WHERE service = ? AND destination = ? AND n <= (
             SELECT n FROM webhook_deliveries WHERE service = ? AND destination = ? ORDER BY n DESC LIMIT 1 OFFSET ?)`,
          d.service, d.destination, d.service, d.destination, MAX_DELIVERIES,
        );
        const row = db.get<DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?', id);
        if (!row) throw new Error('delivery row vanished inside its own transaction');
        return toDelivery(row);
      });
      settled(delivery);
      return delivery;
    },
    /** Sets the outcome of a recorded delivery; nothing when it was pruned meanwhile. */
    update(id: string, u: DeliveryUpdate): void {
      db.run(
        `UPDATE webhook_deliveries SET outcome = ?, reason = ?, tag = COALESCE(?, tag), digest = COALESCE(?, digest),
           deploy_id = COALESCE(?, deploy_id) WHERE id = ?`,
        u.outcome, bounded(u.reason ?? ''), u.tag ?? null, u.digest ?? null, u.deployId ?? null, id,
      );
      const row = db.get<{ service: string; destination: string }>('SELECT service, destination FROM webhook_deliveries WHERE id = ?', id);
      if (row) settled({ ...row, outcome: u.outcome });
    },
    get(id: string): WebhookDelivery | undefined {
      const r = db.get<DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?', id);
      return r ? toDelivery(r) : undefined;
    },
    /** The earlier delivery the sender gave this id to, if one is still kept. */
    findSent(a: { service: string; destination: string; source: string; senderDeliveryId: string }): WebhookDelivery | undefined {
      const r = db.get<DeliveryRow>(
        `SELECT * FROM webhook_deliveries WHERE service = ? AND destination = ? AND source = ? AND sender_delivery_id = ?
         ORDER BY n LIMIT 1`,
        a.service, a.destination, a.source, a.senderDeliveryId,
      );
      return r ? toDelivery(r) : undefined;
    },
    /** Newest first. */
    list(service: string, destination: string, limit: number): WebhookDelivery[] {
      return db
        .all<DeliveryRow>(
          'SELECT * FROM webhook_deliveries WHERE service = ? AND destination = ? ORDER BY n DESC LIMIT ?',
          service, destination, Math.max(1, Math.min(MAX_DELIVERIES, Math.floor(limit))),
        )
        .map(toDelivery);
    },
  };
}
