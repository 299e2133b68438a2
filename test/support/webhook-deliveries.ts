// What `deploy webhook deliveries --json` shows for the first server: the rows
// the e2e tests of webhooks and polling judge (shared type, not a copy).
import assert from 'node:assert/strict';
import type { WebhookDelivery } from '../../shared/api-types.js';
import { explain, type E2eApp } from './e2e-app.js';

export async function webhookDeliveries(e: E2eApp, limit = 20): Promise<WebhookDelivery[]> {
  const r = await e.app.run(['webhook', 'deliveries', '--json', '-n', String(limit)]);
  assert.equal(r.code, 0, explain(r, e));
  return (JSON.parse(r.stdout) as { servers: Array<{ deliveries: WebhookDelivery[] }> }).servers[0]!.deliveries;
}
