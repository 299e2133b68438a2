// Trusted operator keys and the replay table shared by request tokens and manifests.
import { ConflictError, UserError } from '../../shared/errors.js';
import { LOCAL_ACTOR, type JWK } from '../../shared/api-types.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';
import { SCOPES, type Scope, type TrustedKey } from './types.js';

type KeyRow = { kid: string; jwk: string; comment: string; scopes: string; added_at: string };

// A token stays verifiable for a short clock-skew window after exp; keep its jti
// well past that so pruning can never reopen a replay window.
const JTI_RETENTION_AFTER_EXP_S = 300;
const MAX_JTI_LENGTH = 200;

export function createKeysRepo(db: Db, now: () => number) {
  const toKey = (r: KeyRow): TrustedKey => ({
    kid: r.kid,
    jwk: JSON.parse(r.jwk) as JWK,
    comment: r.comment,
    scopes: r.scopes.split(',').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
    added_at: r.added_at,
  });

  return {
    list(): TrustedKey[] {
      return db.all<KeyRow>('SELECT * FROM trusted_keys ORDER BY added_at, kid').map(toKey);
    },
    get(kid: string): TrustedKey | undefined {
      const r = db.get<KeyRow>('SELECT * FROM trusted_keys WHERE kid = ?', kid);
      return r ? toKey(r) : undefined;
    },
    add(k: { kid: string; jwk: JWK; comment: string; scopes: Scope[] }): 'added' | 'updated' | 'unchanged' {
      if (k.scopes.length === 0 || k.scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) {
        throw new UserError(`scopes must be some of ${SCOPES.join(', ')}`);
      }
      const jwk = JSON.stringify(k.jwk);
      const scopes = [...new Set(k.scopes)].sort().join(',');
      return db.transaction(() => {
        const existing = db.get<KeyRow>('SELECT * FROM trusted_keys WHERE kid = ?', k.kid);
        const audit = (action: string) =>
          insertAudit(db, now(), { keyId: LOCAL_ACTOR, action, detail: { kid: k.kid, comment: k.comment, scopes: scopes.split(',') } });
        if (!existing) {
          db.run(
            'INSERT INTO trusted_keys (kid, jwk, comment, scopes, added_at) VALUES (?, ?, ?, ?, ?)',
            k.kid, jwk, k.comment, scopes, new Date(now()).toISOString(),
          );
          audit('trust.added');
          return 'added';
        }
        if (existing.jwk === jwk && existing.comment === k.comment && existing.scopes === scopes) return 'unchanged';
        db.run('UPDATE trusted_keys SET jwk = ?, comment = ?, scopes = ? WHERE kid = ?', jwk, k.comment, scopes, k.kid);
        audit('trust.updated');
        return 'updated';
      });
    },
    remove(kid: string): boolean {
      return db.transaction(() => {
        const existing = db.get<KeyRow>('SELECT * FROM trusted_keys WHERE kid = ?', kid);
        if (!existing) return false;
        db.run('DELETE FROM trusted_keys WHERE kid = ?', kid);
        insertAudit(db, now(), { keyId: LOCAL_ACTOR, action: 'trust.removed', detail: { kid, comment: existing.comment } });
        return true;
      });
    },
  };
}

/** Records a jti; call inside a transaction when it must commit with other rows. */
export function recordJti(db: Db, nowMs: number, jti: string, exp: number, what: string): void {
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw new UserError(`${what} jti must be 1-${MAX_JTI_LENGTH} characters`);
  }
  if (!Number.isSafeInteger(exp)) throw new UserError(`${what} exp must be an integer`);
  db.run('DELETE FROM seen_jti WHERE exp < ?', Math.floor(nowMs / 1000) - JTI_RETENTION_AFTER_EXP_S);
  if (db.get('SELECT 1 AS seen FROM seen_jti WHERE jti = ?', jti)) {
    throw new ConflictError(`${what} was already used (jti ${jti})`, 'sign a new one; every jti is accepted once', 'replayed');
  }
  db.run('INSERT INTO seen_jti (jti, exp) VALUES (?, ?)', jti, exp);
}
