// Collects config problems and warnings with their key paths, and renders them
// with the file and line each key came from (`proxy/ssl: should be a boolean
// (config/deploy.yml:14)`), like Kamal's validator but with lines.

import type { z } from 'zod';
import type { KeyPath } from './yaml.js';

export interface Issue {
  path: KeyPath;
  message: string;
}

/** Where a key path was written: the file label and, when the key exists, its line. */
export interface Location {
  file: string;
  line?: number;
  /** Orders files: the base file before a destination file. */
  order: number;
}

export type Locate = (path: KeyPath) => Location;

export class Findings {
  readonly issues: Issue[] = [];
  readonly warnings: Issue[] = [];
  private readonly warned = new Set<string>();

  error(path: KeyPath, message: string): void {
    this.issues.push({ path, message });
  }

  /** One warning per path and message, however often the same key is met. */
  warn(path: KeyPath, message: string): void {
    const key = `${path.join('/')}\0${message}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnings.push({ path, message });
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function valueAt(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const key of path) {
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

const NOUNS: Record<string, string> = {
  object: 'a map',
  array: 'a list',
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
};

/** A zod issue, as Kamal would phrase it, at `prefix` + the issue's own path. */
export function fromZodIssue(issue: z.core.$ZodIssue, raw: unknown, prefix: KeyPath = []): Issue[] {
  const path = [...prefix, ...(issue.path as KeyPath)];
  const local = issue.path as KeyPath;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key' }));
    case 'invalid_type':
      return [{ path, message: valueAt(raw, local) === undefined ? 'is required' : `should be ${NOUNS[issue.expected] ?? issue.expected}` }];
    case 'too_small':
      return [{ path, message: issue.origin === 'array' ? `should have at least ${issue.minimum} item(s)` : issue.origin === 'string' ? 'should not be empty' : `should be at least ${issue.minimum}` }];
    case 'too_big':
      return [{ path, message: issue.origin === 'array' ? `should have at most ${issue.maximum} items` : issue.origin === 'string' ? `should be at most ${issue.maximum} characters` : `should be at most ${issue.maximum}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** Parses `value` (found at `path`) with a zod schema; problems go to `findings`. */
export function parseSection<T>(schema: z.ZodType<T>, value: unknown, path: KeyPath, findings: Findings): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) for (const found of fromZodIssue(issue, value, path)) findings.error(found.path, found.message);
  return undefined;
}

function where(location: Location): string {
  return location.line === undefined ? location.file : `${location.file}:${location.line}`;
}

function located(items: Issue[], locate: Locate) {
  return items
    .map((item) => ({ ...item, location: locate(item.path) }))
    .sort((a, b) => a.location.order - b.location.order || (a.location.line ?? 0) - (b.location.line ?? 0));
}

export function renderIssue(item: Issue, locate: Locate): string {
  return `${item.path.length ? `${item.path.join('/')}: ` : ''}${item.message} (${where(locate(item.path))})`;
}

/** Past this many, a count: a file that broken is better fixed from its first problems. */
export const MAX_SHOWN_ISSUES = 200;

/**
 * Every problem (up to MAX_SHOWN_ISSUES) in file order, so a config is fixed in
 * one pass. One problem is the message itself; several are a count on the
 * first line (what --json readers and one-line logs see), then one per line.
 */
export function renderIssues(issues: Issue[], locate: Locate): string {
  const all = located(issues, locate);
  // A key may hold a line break (a quoted YAML key); it must not make a line of its own.
  const shown = all.slice(0, MAX_SHOWN_ISSUES).map((item) => renderIssue(item, () => item.location).replace(/[\r\n]+/g, ' '));
  if (shown.length === 1) return shown[0] ?? '';
  const more = all.length - shown.length;
  const files = [...new Set(all.map((item) => item.location.file))].join(' and ');
  return [`${all.length} problems in ${files}:`, ...shown.map((line) => `  ${line}`), ...(more > 0 ? [`  and ${more} more`] : [])].join('\n');
}

/** Warnings as lines for stderr, in file order. */
export function renderWarnings(warnings: Issue[], locate: Locate): string[] {
  return located(warnings, locate).map((item) => `warning: ${renderIssue(item, () => item.location)}`);
}
