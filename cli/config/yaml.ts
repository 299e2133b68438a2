// The only importer of `yaml`. Parses one document and keeps the source
// positions so config errors can say which line a key is on.

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, stringify } from 'yaml';
import type { Document, Node, ScalarTag, Tags } from 'yaml';
import { ConfigError } from '../../shared/errors.js';

export type KeyPath = readonly (string | number)[];

export interface ParsedYaml {
  value: unknown;
  /** 1-based line of the deepest node along `path` that exists, if any. */
  lineOf(path: KeyPath): number | undefined;
}

const MAX_ALIASES = 100;

/**
 * `sourceLines` maps lines of `text` to lines of the file as written, when
 * `text` was rendered from ERB (lines[i] is the source line of line i + 1).
 */
const BOOL = 'tag:yaml.org,2002:bool';
const FLOAT = 'tag:yaml.org,2002:float';
const TIMESTAMP = 'tag:yaml.org,2002:timestamp';
// Psych's own scalar rules where YAML 1.1 as `yaml` reads it differs: `y`/`n`
// stay strings (an env key `N` would otherwise become "false"), a float needs
// a digit and a dot (`.` and `1e3` stay strings), and a date stays the text
// written, which is what Kamal's `to_s` of Psych's Date gives.
const PSYCH_BOOL: ScalarTag = {
  tag: BOOL,
  default: true,
  identify: (value) => typeof value === 'boolean',
  test: /^(?:yes|true|on|no|false|off)$/i,
  resolve: (text) => /^(?:yes|true|on)$/i.test(text),
};
const PSYCH_FLOAT_TESTS = new Map<string, RegExp>([
  [String(/^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/), /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*[eE][-+]?[0-9]+$/],
  [String(/^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/), /^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/],
]);

function asPsychReads(tags: Tags): Tags {
  const out: Tags = tags.filter((t) => typeof t === 'string' || (t.tag !== BOOL && t.tag !== TIMESTAMP)).map((t) => {
    if (typeof t === 'string' || t.tag !== FLOAT || !('test' in t) || !t.test) return t;
    const test = PSYCH_FLOAT_TESTS.get(String(t.test));
    return test ? { ...t, test } : t;
  });
  return [...out, PSYCH_BOOL];
}

export function parseYaml(text: string, fileLabel: string, sourceLines?: readonly number[]): ParsedYaml {
  const lineCounter = new LineCounter();
  const toSource = (line: number) => sourceLines?.[line - 1] ?? line;
  // YAML 1.1, like Ruby's Psych that Kamal uses: `10_000_000` is a number and `<<` merges.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.1', customTags: asPsychReads });
  const problem = doc.errors[0];
  if (problem) {
    const line = toSource(lineCounter.linePos(problem.pos[0]).line);
    const message = problem.message.split('\n')[0] ?? 'invalid YAML';
    throw new ConfigError(`invalid YAML: ${message} (${fileLabel}:${line})`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    throw new ConfigError(`invalid YAML: ${err instanceof Error ? err.message : String(err)} (${fileLabel})`);
  }
  return {
    value,
    lineOf: (path) => {
      const line = findLine(doc, lineCounter, path);
      return line === undefined ? undefined : toSource(line);
    },
  };
}

function lineAt(lineCounter: LineCounter, node: Node | null | undefined): number | undefined {
  const start = node?.range?.[0];
  return start === undefined ? undefined : lineCounter.linePos(start).line;
}

function findLine(doc: Document, lineCounter: LineCounter, path: KeyPath): number | undefined {
  let node: unknown = doc.contents;
  // A key missing at the top has no better place than the file itself.
  let line: number | undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return line;
      line = lineAt(lineCounter, pair.key as Node) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (!item) return line;
      line = lineAt(lineCounter, item as Node) ?? line;
      node = item;
    } else {
      return line;
    }
  }
  return line;
}

/** Plain data as YAML, for `deploy config`. */
export function stringifyYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}
