// The notify hook: one POST per failed cron run (later: per failed backup) to
// the release's notify URL, a small JSON signed like the generic webhook
// Berth accepts (X-Berth-Timestamp, X-Berth-Signature: sha256=HMAC(secret,
// "<timestamp>.<body>")), so a receiver checks it the same way. One attempt
// with a timeout; the outcome is recorded by the caller, never retried, and a
// redirect counts as a failure (the agent posts where it was told, not elsewhere).
import { createHmac } from 'node:crypto';
import type { JWK } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { notifyUrlProblem } from '../../shared/manifest-cron.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import type { Unseal } from '../engine/role-secrets.js';

export const NOTIFY_OUTPUT_TAIL_CHARS = 4096;

export interface NotifyTarget {
  url: string;
  secret?: string;
  timeoutS: number;
}

export type NotifyEvent = Record<string, unknown> & { event: string };

/** Posts `event`; resolves to `sent` or `failed: …` (never throws). The URL is never in the answer: it may hold a token. */
export type Notifier = (target: NotifyTarget, event: NotifyEvent) => Promise<string>;

/** The release's notify hook, unsealed; undefined when it has none. */
export async function openNotifyTarget(manifest: ManifestPayload, sealingPrivateJwk: JWK, unseal: Unseal = defaultUnseal): Promise<NotifyTarget | undefined> {
  const n = manifest.notify;
  if (!n) return undefined;
  const ref = { service: manifest.service, destination: manifest.destination };
  const url = await unseal(n.url, sealingPrivateJwk, { use: 'notify-url', ...ref });
  const problem = notifyUrlProblem(url);
  if (problem) throw new Error(`the notify URL ${problem}`);
  const secret = n.secret === undefined ? undefined : await unseal(n.secret, sealingPrivateJwk, { use: 'notify-secret', ...ref });
  return { url, ...(secret !== undefined ? { secret } : {}), timeoutS: n.timeout };
}

/**
 * Posts a failure event to the release's notify hook: undefined when it has
 * none, else `sent` or `failed: …` (a hook that cannot be opened is a failure
 * too). Cron runs and backups record the answer on their row.
 */
export async function sendFailureNotice(
  deps: { notify: Notifier; sealingPrivateJwk: JWK; unseal?: Unseal | undefined },
  manifest: ManifestPayload,
  event: NotifyEvent,
): Promise<string | undefined> {
  try {
    const target = await openNotifyTarget(manifest, deps.sealingPrivateJwk, deps.unseal);
    return target ? await deps.notify(target, event) : undefined;
  } catch (e) {
    return `failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export function notifyHeaders(body: string, secret: string | undefined, nowMs: number): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'berth-agent' };
  if (secret !== undefined) {
    const timestamp = String(Math.floor(nowMs / 1000));
    headers['x-berth-timestamp'] = timestamp;
    headers['x-berth-signature'] = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  }
  return headers;
}

export const postNotify: Notifier = async (target, event) => {
  const body = JSON.stringify(event);
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: { ...notifyHeaders(body, target.secret, Date.now()), 'x-berth-event': event.event },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(target.timeoutS * 1000),
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return 'sent';
    return `failed: HTTP ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`;
  } catch (e) {
    const err = e as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    if (err.name === 'TimeoutError') return `failed: no answer within ${target.timeoutS}s`;
    // The cause names the network error (ECONNREFUSED, ENOTFOUND …), never the URL.
    return `failed: ${err.cause?.code ?? err.cause?.message ?? err.message ?? 'request failed'}`;
  }
};
