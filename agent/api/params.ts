// Query and path parameters shared by the per-service routes: validated once
// here, so every route refuses the same malformed input with the same 400.
import type { Context } from 'hono';
import { NotFoundError, UserError } from '../../shared/errors.js';
import { NAME, manifestSubject } from '../../shared/manifest.js';
import type { Store } from '../store/index.js';
import type { ApiEnv } from './context.js';

export interface ServiceTarget {
  service: string;
  destination: string;
}

/**
 * Refuses parameters the route does not know and repeated ones: a typo such as
 * `?destinaton=x` must not silently act on the default destination.
 */
export function queryParams<K extends string>(c: Context<ApiEnv>, allowed: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const [key, values] of Object.entries(c.req.queries())) {
    if (!(allowed as readonly string[]).includes(key)) {
      throw new UserError(`unknown query parameter "${key.slice(0, 40)}"`, allowed.length ? `known: ${allowed.join(', ')}` : 'this route takes none');
    }
    if (values.length !== 1) throw new UserError(`query parameter "${key}" is given ${values.length} times`);
    out[key as K] = values[0];
  }
  return out;
}

export function checkName(value: string, what: string): string {
  // JSON-quoted: the value comes from the URL and may hold control characters.
  if (!NAME.test(value)) throw new UserError(`${what} ${JSON.stringify(value.slice(0, 80))} is not valid`, 'lower-case letters, digits, - and _, at most 63');
  return value;
}

const COUNT = /^[1-9][0-9]{0,15}$/;

/** A query parameter that must be an integer from 1 to `max`. */
export function positive(value: string, what: string, max: number): number {
  const n = COUNT.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new UserError(`${what} must be an integer from 1 to ${max}`);
  return n;
}

/** `:name` and `?destination=` of /v1/services/:name/...; nothing else in the query. */
export function serviceTarget(c: Context<ApiEnv>): ServiceTarget {
  return serviceQuery(c, []).target;
}

/** serviceTarget for a route that also takes the query parameters `extra` (each at most once). */
export function serviceQuery<K extends string>(
  c: Context<ApiEnv>,
  extra: readonly K[],
): { target: ServiceTarget; query: Partial<Record<K, string>> } {
  const query = queryParams<K | 'destination'>(c, ['destination', ...extra]);
  const service = checkName(c.req.param('name') ?? '', 'service name');
  const destination = query.destination ?? '';
  if (destination !== '') checkName(destination, 'destination');
  return { target: { service, destination }, query };
}

/** A role named in the query; absent or empty means none. */
export function optionalRole(value: string | undefined): string | undefined {
  return optionalName(value, 'role');
}

export function optionalName(value: string | undefined, what: string): string | undefined {
  return value === undefined || value === '' ? undefined : checkName(value, what);
}

/** 404 unless a release of the service was ever accepted here; returns its seq. */
export function requireDeployed(store: Store, { service, destination }: ServiceTarget, hint?: string): number {
  const seq = store.seq(service, destination);
  if (seq === 0) throw new NotFoundError(`service ${manifestSubject(service, destination)} has never been deployed on this agent`, hint);
  return seq;
}
