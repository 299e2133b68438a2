// PURE: the request target the router routes by is the one it forwards. A
// target the app could read as a different path than the router did (a
// fragment, a dot segment, a backslash) is refused, so nothing slips past
// maintenance or into another route's path prefix by being normalised later.

import { normalizeHost } from './table.js';

export interface RequestTarget {
  /** The path the route, the health-path exemption and the app all see. */
  path: string;
  /** Origin-form `path[?query]`: exactly what is sent to the target. */
  forward: string;
}

export type TargetVerdict = { ok: true; target: RequestTarget } | { ok: false; reason: string };

const ABSOLUTE_FORM = /^(https?):\/\/([^/?#]*)(.*)$/i;

/** `raw` as Node's parser gave it (req.url); `hostHeader` the Host the router routes by. */
export function parseRequestTarget(raw: string, hostHeader: string | undefined): TargetVerdict {
  // A fragment is never sent by a browser; apps and URL parsers drop or resolve what follows it.
  if (raw.includes('#')) return refuse('a request target must not carry a fragment (#)');
  let origin = raw;
  const absolute = ABSOLUTE_FORM.exec(raw);
  if (absolute) {
    // RFC 9112 §3.2.2: the authority replaces Host; one that differs would route by one name and serve another.
    const authority = absolute[2] ?? '';
    if (authority.includes('@') || normalizeHost(authority) === undefined || normalizeHost(authority) !== normalizeHost(hostHeader)) {
      return refuse('an absolute-form request target must name the Host it is sent with');
    }
    origin = absolute[3] || '/';
    if (origin.startsWith('?')) origin = `/${origin}`;
  }
  // Asterisk-form (OPTIONS *) and authority-form (CONNECT) name no path to route.
  if (!origin.startsWith('/')) return refuse('the request target must be a path starting with /');
  const q = origin.indexOf('?');
  const path = q >= 0 ? origin.slice(0, q) : origin;
  if (path.includes('\\')) return refuse('the path must not contain a backslash');
  if (hasDotSegment(path)) return refuse('the path must not contain "." or ".." segments (also percent-encoded)');
  return { ok: true, target: { path, forward: origin } };
}

function refuse(reason: string): TargetVerdict {
  return { ok: false, reason };
}

/**
 * A `.`/`..` segment, raw or after percent-decoding (`%2e`, and `%2f`/`%5c` as
 * separators), path parameters ignored: Tomcat and Jetty read `..;x` as `..`.
 */
function hasDotSegment(path: string): boolean {
  const decoded = path.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '/').replace(/%3b/gi, ';');
  return decoded.split('/').some((segment) => {
    const bare = segment.includes(';') ? segment.slice(0, segment.indexOf(';')) : segment;
    return bare === '.' || bare === '..';
  });
}

/**
 * The target with the route's matched prefix removed (Kamal's
 * strip_path_prefix): `/api/users?x=1` under `/api` is `/users?x=1`, `/api`
 * and `/api/` are `/`. The prefix matched at a segment boundary and the path
 * holds no dot segments, so what remains cannot climb out of the prefix.
 */
export function stripPathPrefix(target: RequestTarget, prefix: string): RequestTarget {
  const bare = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (bare === '' || !target.path.startsWith(bare)) return target;
  let rest = target.path.slice(bare.length);
  // `/api//evil.test/x` must not reach the app as `//evil.test/x`, which URL parsers read as a host.
  if (rest.startsWith('//')) rest = rest.replace(/^\/+/, '/');
  const path = rest || '/';
  return { path, forward: path + target.forward.slice(target.path.length) };
}
