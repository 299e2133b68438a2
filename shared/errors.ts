// The one module of typed errors. Each has a stable `code` (clients match on it)
// and an HTTP status; they are rendered only by the agent API's onError and the
// CLI's main.

export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

export class BerthError extends Error {
  readonly code: string;
  readonly status: number;
  readonly hint: string | undefined;

  constructor(code: string, status: number, message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.hint = hint;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) } };
  }
}

/** Bad input from a user or a client: malformed, out of bounds, unknown fields. */
export class UserError extends BerthError {
  constructor(message: string, hint?: string, code = 'invalid_input') {
    super(code, 400, message, hint);
  }
}

/** A deploy.yml or agent config that does not validate. */
export class ConfigError extends BerthError {
  constructor(message: string, hint?: string) {
    super('config_invalid', 400, message, hint);
  }
}

/** Missing, forged, expired or replayed credentials. */
export class AuthError extends BerthError {
  constructor(message: string, hint?: string, code = 'unauthorized') {
    super(code, 401, message, hint);
  }
}

/** A valid caller that lacks the scope for the action. */
export class ForbiddenError extends BerthError {
  constructor(message: string, hint?: string) {
    super('forbidden', 403, message, hint);
  }
}

export class NotFoundError extends BerthError {
  constructor(message: string, hint?: string) {
    super('not_found', 404, message, hint);
  }
}

/** The request conflicts with state: a held lock, a seq not above the last, a used jti. */
export class ConflictError extends BerthError {
  constructor(message: string, hint?: string, code = 'conflict') {
    super(code, 409, message, hint);
  }
}

/**
 * A tar entry a restore will not write (agent/core/backups/archive-policy.ts):
 * the message names the entry (JSON-quoted, bounded) and the reason.
 */
export class ArchiveRefusedError extends BerthError {
  constructor(readonly entry: string, readonly reason: string) {
    super('archive_entry_refused', 409, `archive entry ${entry} refused: ${reason}`, 'the archive is not restored; nothing was written');
  }
}

/**
 * A sealed value presented for another use than the one it was sealed for
 * (`seal_mismatch`), or sealed without saying which (`seal_unbound`). The
 * message names the uses, never the value.
 */
export class SealBindingError extends BerthError {
  constructor(message: string, hint: string, code: 'seal_mismatch' | 'seal_unbound') {
    super(code, 400, message, hint);
  }
}

export class PayloadTooLargeError extends BerthError {
  constructor(message: string) {
    super('payload_too_large', 413, message);
  }
}

export class RateLimitError extends BerthError {
  constructor(message: string, code = 'rate_limited') {
    super(code, 429, message);
  }
}

/** A new release that never became healthy. */
export class UnhealthyError extends BerthError {
  constructor(message: string, hint?: string) {
    super('unhealthy', 502, message, hint);
  }
}

/** Docker, the registry, the router or a remote agent failed. */
export class UpstreamError extends BerthError {
  constructor(message: string, hint?: string, code = 'upstream_failed') {
    super(code, 502, message, hint);
  }
}

/**
 * A registry refused or failed a lookup. `code`, `status` and the message are
 * what a user reads (as UserError or UpstreamError would carry them); `answer`
 * is what the registry said, for a caller that retries: its HTTP status (0 when
 * none came) and its Retry-After in milliseconds.
 */
export class RegistryError extends BerthError {
  readonly answer: { status: number; retryAfterMs?: number | undefined };

  constructor(code: string, status: 400 | 502, message: string, hint: string | undefined, answer: { status: number; retryAfterMs?: number | undefined }) {
    super(code, status, message, hint);
    this.answer = answer;
  }
}

/** A pinned agent identity or certificate does not match what the server presents. */
export class PinMismatchError extends BerthError {
  constructor(message: string, hint?: string) {
    super('pin_mismatch', 400, message, hint);
  }
}

/**
 * A TLS certificate (given as PEM, or sent to the router) that cannot be
 * served: it does not parse, its key does not match, it has expired or does
 * not cover a host. The message names the host or the problem, never the PEM.
 */
export class CertificateInvalidError extends BerthError {
  constructor(message: string, hint?: string) {
    super('certificate_invalid', 400, message, hint);
  }
}

/**
 * An ACME server did not issue a certificate for `host`: `certificate_failed`
 * carries the ACME error type and detail, `acme_unreachable` the reason the
 * directory could not be reached.
 */
export class CertificateIssueError extends BerthError {
  constructor(
    readonly host: string,
    code: 'certificate_failed' | 'acme_unreachable',
    message: string,
    hint?: string,
  ) {
    super(code, 502, message, hint);
  }
}

/** An error's message for a record or a log line, whatever was thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isBerthError(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

/** Rebuild a typed error from an API error body (the CLI side of `toBody`). */
export function errorFromBody(status: number, body: unknown): BerthError {
  const err = (body as ErrorBody | undefined)?.error;
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    return new BerthError(err.code, status, err.message, err.hint);
  }
  return new UpstreamError(`agent answered HTTP ${status}`);
}
