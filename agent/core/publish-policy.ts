// PURE: which host ports releases may publish on this server. A published
// port listens on the host, beside everything else that does: only the agent
// owner decides (`berth-agent run --allow-publish all|PORT|FROM-TO,...`).
import type { PublishedPort } from '../../shared/docker-mounts.js';

export interface PublishAllowance {
  /** Every host port. */
  any: boolean;
  /** Inclusive host port ranges. */
  ranges: ReadonlyArray<readonly [number, number]>;
}

export const NO_PUBLISH: PublishAllowance = Object.freeze({ any: false, ranges: [] });

/** `--allow-publish` values (repeated or comma-separated): `all`, `4001`, `8000-8100`. Throws Error with the bad value. */
export function parsePublishAllowance(values: readonly string[]): PublishAllowance {
  const ranges: [number, number][] = [];
  let any = false;
  for (const raw of values.flatMap((v) => v.split(','))) {
    const v = raw.trim();
    if (v === '') continue;
    if (v === 'all' || v === 'any') {
      any = true;
      continue;
    }
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (!m || from < 1 || to > 65535 || to < from) throw new Error(`"${v.slice(0, 40)}" is not all, a port (1-65535) or a range like 8000-8100`);
    ranges.push([from, to]);
  }
  return { any, ranges };
}

/** The first of `ports` the allowance does not cover, or undefined when all are allowed. */
export function unallowedPort(ports: readonly PublishedPort[], allowance: PublishAllowance): PublishedPort | undefined {
  if (allowance.any) return undefined;
  return ports.find((p) => !allowance.ranges.some(([from, to]) => p.hostPort >= from && p.hostPort <= to));
}

export function describeAllowance(allowance: PublishAllowance): string {
  if (allowance.any) return 'all';
  return allowance.ranges.length === 0 ? 'none' : allowance.ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(',');
}
