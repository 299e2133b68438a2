// GET /v1/identity: public, self-signed proof of who this agent is, which the
// CLI pins on first contact (agent id, sealing key, TLS fingerprint).
import type { Hono } from 'hono';
import type { IdentityResponse } from '../../shared/api-responses.js';
import { signIdentity } from '../../shared/identity.js';
import { BERTH_VERSION, FEATURES } from '../../shared/version.js';
import { nowMs, type ApiDeps, type ApiEnv } from './context.js';

export function identityRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const id = deps.identity;
  // Signed once per process: the claims never change while it runs.
  let document: Promise<string> | undefined;
  const signed = () =>
    (document ??= signIdentity(
      {
        agent_id: id.agentId,
        identity_jwk: id.identityPublicJwk,
        sealing_jwk: id.sealingPublicJwk,
        tls_fingerprint: id.tlsFingerprint,
        version: BERTH_VERSION,
        features: [...FEATURES],
        iat: Math.floor(nowMs(deps) / 1000),
      },
      id.identityPrivateJwk,
    ).catch((e: unknown) => {
      document = undefined;
      throw e;
    }));

  app.get('/v1/identity', async (c) =>
    c.json({
      document: await signed(),
      agent_id: id.agentId,
      tls_fingerprint: id.tlsFingerprint,
      sealing_jwk: id.sealingPublicJwk,
      version: BERTH_VERSION,
      features: [...FEATURES],
    } satisfies IdentityResponse),
  );
}
