// Berth's `replicas:` key (also under x-berth:, see schema-berth.ts): how many
// containers of a role each of its servers runs; the router balances requests
// over them round robin. Kamal's role schema refuses unknown keys, so the
// count cannot live under `servers.<role>`.
//
//   replicas:
//     web: 3        # 1..16; a role not named here runs one container per server

import { MAX_REPLICAS } from '../../shared/manifest.js';
import { Findings, isPlainObject } from './issues.js';
import { checkInteger } from './schema-values.js';
import type { RoleConfig } from './types.js';
import type { KeyPath } from './yaml.js';

/** Role name → count, for roles given more than one; undefined when none is. */
export function checkReplicas(
  raw: unknown,
  path: KeyPath,
  findings: Findings,
  roles: readonly Pick<RoleConfig, 'name'>[],
  accessories: readonly string[],
): Record<string, number> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    findings.error(path, `should be a map of role name to a number of containers per server (1..${MAX_REPLICAS}), e.g. web: 3`);
    return undefined;
  }
  const names = roles.map((r) => r.name);
  const out: Record<string, number> = {};
  for (const [role, value] of Object.entries(raw)) {
    const at = [...path, role];
    if (!names.includes(role)) {
      findings.error(
        at,
        accessories.includes(role)
          ? `${role} is an accessory: an accessory runs one container (replicas are for roles: ${names.join(', ')})`
          : `there is no role ${role} (roles: ${names.join(', ')})`,
      );
      continue;
    }
    if (value === undefined || value === null) {
      findings.error(at, `should be a number of containers per server (1..${MAX_REPLICAS})`);
      continue;
    }
    const count = checkInteger(value, at, findings, 1, MAX_REPLICAS);
    if (count !== undefined && count > 1) out[role] = count;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
