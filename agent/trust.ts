// `berth-agent trust add|list|remove`: which operator keys this agent obeys.
// A running agent reads keys from the database per request, so changes apply at once.
import type { Scope, TrustedKey } from '../shared/api-types.js';
import { NotFoundError } from '../shared/errors.js';
import { parseKeyLine } from '../shared/keys.js';
import type { Store } from './store/index.js';

export async function trustAdd(store: Store, line: string, scope: Scope): Promise<string> {
  const { jwk, kid, comment } = await parseKeyLine(line);
  const result = store.keys.add({ kid, jwk, comment, scopes: [scope] });
  const label = comment ? `${kid} (${comment})` : kid;
  switch (result) {
    case 'added':
      return `trusted ${label} with scope ${scope}`;
    case 'updated':
      return `updated ${label}: scope ${scope}`;
    case 'unchanged':
      return `${label} is already trusted with scope ${scope}`;
  }
}

export function trustRemove(store: Store, kid: string): string {
  if (!store.keys.remove(kid)) throw new NotFoundError(`no trusted key ${kid.slice(0, 80)}`, 'see berth-agent trust list');
  return `removed ${kid}`;
}

export function renderTrustList(keys: TrustedKey[], json: boolean): string {
  if (json) {
    return `${JSON.stringify({ keys: keys.map((k) => ({ kid: k.kid, scopes: k.scopes, comment: k.comment, added: k.added_at })) })}\n`;
  }
  if (keys.length === 0) return "no trusted keys: every authenticated request is refused (berth-agent trust add '<line>')\n";
  const rows = [['KID', 'SCOPES', 'COMMENT', 'ADDED'], ...keys.map((k) => [k.kid, k.scopes.join(','), k.comment, k.added_at])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}
