// `Authorization: Berth <jws>` on every endpoint that is not public. Fails closed:
// no trusted keys means no access at all.
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { hasScope, type Scope } from '../../shared/api-types.js';
import { AuthError, ForbiddenError, RateLimitError, isBerthError } from '../../shared/errors.js';
import { requireBodyHash, tokenFromAuthorization, verifyRequestHead } from '../../shared/request-token.js';
import { readHashedBody } from './body-limit.js';
import { nowMs, type ApiDeps, type ApiEnv } from './context.js';

export interface RequireTokenOptions {
  /**
   * Leave the jti for the route to commit in its own transaction (POST
   * /v1/releases), so a refused release leaves no trace in the store.
   */
  deferJti?: boolean;
  /**
   * A body too large to hold (a backup upload): the route streams it itself.
   * The jti is spent once the signature verified, so a replay is refused
   * before its body is read; the token's `bh` is handed to the route as
   * `bodyHash`, which must compare it with the streamed body's hash
   * (requireStreamedBodyHash) before acting on it. No rawBody is set.
   */
  streamBody?: boolean;
}

export function requireToken(deps: ApiDeps, scope: Scope, opts: RequireTokenOptions = {}): MiddlewareHandler<ApiEnv> {
  const limiter = deps.authLimiter;
  if (!limiter) throw new Error('requireToken needs deps.authLimiter (buildApp sets one)');

  return async function authenticate(c, next) {
    // Failures are counted per remote address only. Key ids are public (they
    // are thumbprints of the public key line), so a per-key counter keyed on
    // an unverified header would let anyone lock a real operator out. The
    // limiter only ever answers failures: a request signed by a trusted key
    // passes even from an address that junk has blocked (same NAT, same
    // proxy). Junk is cheap to refuse: verifyRequestHead checks the claims
    // and the key before the one signature check, and nothing reads the
    // body of a request until its signature has verified.
    const address = `addr:${remoteAddress(c)}`;
    const failed = (e: unknown): never => {
      if (isBerthError(e) && e.status === 401) {
        const blocked = limiter.blocked(address);
        limiter.fail(address);
        if (blocked) throw new RateLimitError('too many failed authentications; try again in a minute');
      }
      throw e;
    };
    if (deps.store.keys.list().length === 0) {
      deps.log.warn('refused an authenticated request: this agent trusts no keys', {
        path: c.req.path,
        fix: "berth-agent trust add '<public key line>'",
      });
      throw new AuthError('this agent trusts no keys yet', "on the server: berth-agent trust add '<your public key line>'", 'no_trusted_keys');
    }

    let claims;
    try {
      claims = await verifyRequestHead(tokenFromAuthorization(c.req.header('authorization')), {
        lookupKey: (kid) => deps.store.keys.get(kid)?.jwk,
        audience: deps.identity.agentId,
        method: c.req.method,
        pathAndQuery: pathAndQuery(c),
        now: Math.floor(nowMs(deps) / 1000),
      });
    } catch (e) {
      return failed(e);
    }
    // A key without the scope is refused before its body is read.
    const key = deps.store.keys.get(claims.iss);
    if (!key) throw new AuthError(`unknown key ${claims.iss}`);
    if (!hasScope(key.scopes, scope)) {
      throw new ForbiddenError(
        `key ${key.kid} (${key.comment}) has scope ${key.scopes.join(', ')}; this needs ${scope}`,
        `on the server: berth-agent trust add '<line>' --scope ${scope}`,
      );
    }
    if (opts.streamBody) {
      deps.store.useJti(claims.jti, claims.exp);
      c.set('bodyHash', claims.bh);
      c.set('caller', { kid: key.kid, scopes: key.scopes, jti: claims.jti, exp: claims.exp });
      return next();
    }
    // The signature holds; the body must be the one it signed (bh) before the
    // request counts as authenticated: until then no jti is spent.
    const { body, hash } = await readHashedBody(c.req.raw.body);
    try {
      requireBodyHash(claims, hash);
    } catch (e) {
      return failed(e);
    }
    if (!opts.deferJti) deps.store.useJti(claims.jti, claims.exp);
    c.set('rawBody', body);
    c.set('caller', { kid: key.kid, scopes: key.scopes, jti: claims.jti, exp: claims.exp });
    return next();
  };
}

/** After a streamed body (streamBody): AuthError unless its base64url SHA-256 is the token's bh. */
export function requireStreamedBodyHash(c: Context<ApiEnv>, hash: string): void {
  const expected = c.get('bodyHash');
  if (expected === undefined || expected !== hash) throw new AuthError('request token: bh does not match the request body');
}

/** The path and query exactly as the client sent them: what `htu` signs. */
function pathAndQuery(c: Context<ApiEnv>): string {
  const raw = incoming(c)?.url;
  if (typeof raw === 'string' && raw.startsWith('/')) return raw;
  const url = new URL(c.req.url);
  return url.pathname + url.search;
}

function remoteAddress(c: Context<ApiEnv>): string {
  return incoming(c)?.socket?.remoteAddress ?? 'unknown';
}

function incoming(c: Context<ApiEnv>): IncomingMessage | undefined {
  const env = c.env as { incoming?: IncomingMessage } | undefined;
  return env?.incoming;
}
