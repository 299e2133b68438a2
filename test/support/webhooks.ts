// Webhook deliveries for the unit tests of agent/core/webhooks: the vendors'
// documented bodies from test/fixtures/webhooks, and requests built around them.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Delivery, WebhookInput, WebhookResult, WebhookSource } from '../../agent/core/webhooks/index.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/webhooks/', import.meta.url));

export const SECRET = 'whsec-0123456789abcdef0123456789abcdef';
export const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);

export function fixture(source: WebhookSource, name: string): Buffer {
  return readFileSync(`${FIXTURES}${source}/${name}`);
}

/** A fixture's JSON with `edit` applied, as bytes again. */
export function edited(source: WebhookSource, name: string, edit: (body: any) => void): Buffer {
  const body = JSON.parse(fixture(source, name).toString('utf8'));
  edit(body);
  return Buffer.from(JSON.stringify(body));
}

export function request(source: WebhookSource, body: Buffer, headers: Record<string, string | undefined>, extra: Partial<WebhookInput> = {}): WebhookInput {
  return { source, body, headers, pathTokenOk: true, secret: SECRET, now: NOW, ...extra };
}

export function hmacHex(secret: string, ...parts: Array<string | Buffer>): string {
  const mac = createHmac('sha256', secret);
  for (const p of parts) mac.update(p);
  return mac.digest('hex');
}

export function accepted(result: WebhookResult): Delivery {
  if (!result.ok) assert.fail(`refused ${result.status} ${result.code}: ${result.reason}`);
  // A webhook is a hint: whatever digest the payload claims stays out of the result.
  assert.doesNotMatch(JSON.stringify(result), /sha256:|"digest"/i, 'no digest in a verified delivery');
  return result.delivery;
}

export function refused(result: WebhookResult, status: number, reason: RegExp): void {
  if (result.ok) assert.fail(`accepted: ${JSON.stringify(result.delivery)}`);
  assert.equal(result.status, status, result.reason);
  assert.match(result.reason, reason);
  assert.doesNotMatch(result.reason, new RegExp(SECRET.slice(0, 12)), 'the reason never shows the secret');
}
