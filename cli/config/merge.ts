// Destinations, the way Kamal merges them: `deploy.DEST.yml` deep-merged over
// `deploy.yml` (ActiveSupport's deep_merge: maps merge key by key, everything
// else, lists included, is replaced). Errors must point at the file a value
// came from, so the locator follows the same rule.

import { isPlainObject } from './issues.js';
import type { Locate, Location } from './issues.js';
import type { KeyPath } from './yaml.js';

export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = key in base ? deepMerge(base[key], value) : value;
  return out;
}

export interface SourceDoc {
  value: unknown;
  label: string;
  lineOf(path: KeyPath): number | undefined;
}

/** Which file wrote the value at `path` in the merged config: the last one that set it. */
function ownerOf(docs: SourceDoc[], path: KeyPath): number {
  for (let d = docs.length - 1; d >= 0; d--) {
    let node: unknown = docs[d]?.value;
    let owns = true;
    for (const segment of path) {
      if (!isPlainObject(node) || !(String(segment) in node)) {
        owns = false;
        break;
      }
      const next = node[String(segment)];
      // A non-map here replaced whatever the earlier files had below it.
      if (!isPlainObject(next)) break;
      node = next;
    }
    if (owns) return d;
  }
  return 0;
}

export function locator(docs: SourceDoc[]): Locate {
  return (path: KeyPath): Location => {
    const index = ownerOf(docs, path);
    const doc = docs[index] as SourceDoc;
    const line = doc.lineOf(path);
    return line === undefined ? { file: doc.label, order: index } : { file: doc.label, line, order: index };
  };
}
