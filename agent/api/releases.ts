// POST /v1/releases: accept a signed release manifest and start its deploy.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { ReleaseAcceptedResponse } from '../../shared/api-responses.js';
import { ConflictError, ForbiddenError, UserError } from '../../shared/errors.js';
import { describeIssues, isDigestReference } from '../../shared/manifest.js';
import { MANIFEST_MAX_CHARS, verifyManifest } from '../../shared/manifest-signing.js';
import { checkRelease, guardrailPolicy } from '../core/guardrails.js';
import { checkSealedValues, usedIn } from '../engine/role-secrets.js';
import { checkBackupPolicy, DEFAULT_BACKUP_MIN_INTERVAL_S } from '../core/backups/policy.js';
import { checkCronPolicy, DEFAULT_CRON_POLICY } from '../core/cron/policy.js';
import { openNotifyTarget } from '../cron/notify.js';
import type { Store } from '../store/index.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { requireToken } from './auth.js';
import { nowMs, type ApiDeps, type ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';

const releaseBodySchema = z.strictObject({
  manifest: z.string().min(1).max(MANIFEST_MAX_CHARS),
});

/** Guardrails come from deps.guardrails (agent/config.ts agentGuardrails), the default policy when absent. */
export function releaseRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  app.post('/v1/releases', requireToken(deps, 'deploy', { deferJti: true }), async (c) => {
    const parsed = releaseBodySchema.safeParse(parseJsonBody(c.get('rawBody')));
    if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {"manifest": "<JWS>"}');
    const jws = parsed.data.manifest;
    const caller = c.get('caller');

    const payload = await verifyManifest(jws, {
      lookupKey: (kid) => deps.store.keys.get(kid)?.jwk,
      audience: deps.identity.agentId,
      now: Math.floor(nowMs(deps) / 1000),
    });
    // The key that signed the release must be the one delivering it: the
    // deploy is then attributed to one key that both authorized and sent it,
    // and a captured manifest cannot be pushed by another key holder (for
    // instance a read-only key, or an operator who was never meant to ship it).
    if (payload.iss !== caller.kid) {
      throw new ForbiddenError(
        `manifest is signed by key ${payload.iss} but the request by key ${caller.kid}`,
        'sign the manifest and the request with the same key',
      );
    }
    // The schema refuses tags already; this guards the one invariant the engine relies on.
    if (!isDigestReference(payload.image)) throw new UserError('image must be pinned by digest (repo@sha256:...)');
    // Before anything is committed: a refused release leaves no trace.
    checkRelease(payload, deps.guardrails ?? guardrailPolicy());
    checkCronPolicy(payload, deps.cronPolicy ?? DEFAULT_CRON_POLICY, jobsOfOtherServices(deps.store, payload));
    checkBackupPolicy(payload, deps.backupMinIntervalS ?? DEFAULT_BACKUP_MIN_INTERVAL_S);
    // A sealed value copied from another service, role or name is refused
    // here, so nothing of the release is stored or run.
    await checkSealedValues(payload, deps.identity.sealingPrivateJwk, (jwe, binding) =>
      usedIn(deps.store.payloadsContaining(payload.service, payload.destination, jwe), jwe, binding),
    );
    await openNotifyTarget(payload, deps.identity.sealingPrivateJwk).catch((e: unknown) => {
      throw new UserError(`notify.url: ${e instanceof Error ? e.message.replace(/^the notify URL /, '') : 'cannot be opened'}`, 'give notify a url like https://hooks.example.com/berth');
    });

    // A release switching under a restore would start writers the restore stopped.
    if (deps.backups?.busy.restoreUnderWay(payload.service, payload.destination)) {
      throw new ConflictError(`a backup of ${payload.service} is being restored on this agent`, 'deploy once the restore has ended', 'restore_in_progress');
    }
    const deploy = deps.store.acceptRelease({
      payload,
      jws,
      keyId: caller.kid,
      requestJti: { jti: caller.jti, exp: caller.exp },
    });
    // After the answer is on its way: the engine reports through the store.
    setImmediate(() => {
      Promise.resolve()
        .then(() => deps.engine.run(deploy.id))
        .catch((e: unknown) => deps.log.error('deploy run failed', { deploy: deploy.id, err: e }));
    });
    return c.json(
      { deploy: { id: deploy.id, service: deploy.service, destination: deploy.destination, version: deploy.version, state: deploy.state } } satisfies ReleaseAcceptedResponse,
      202,
    );
  });
}

/** Cron jobs the current releases of the agent's other services schedule. */
function jobsOfOtherServices(store: Store, m: ManifestPayload): number {
  let n = 0;
  for (const s of store.services()) {
    if (!s.current || (s.name === m.service && s.destination === m.destination)) continue;
    n += Object.keys(store.getRelease(s.current.deploy_id)?.payload.cron ?? {}).length;
  }
  return n;
}
