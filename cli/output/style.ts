// ANSI styling that turns itself off: plain text unless writing to a colour terminal.

import type { OperatorLock } from '../../shared/api-types.js';

export interface Style {
  readonly color: boolean;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const wrap = (on: boolean, open: number, close: number) => (text: string) => (on ? `\x1b[${open}m${text}\x1b[${close}m` : text);

export function createStyle(color: boolean): Style {
  return {
    color,
    red: wrap(color, 31, 39),
    green: wrap(color, 32, 39),
    yellow: wrap(color, 33, 39),
    dim: wrap(color, 2, 22),
    bold: wrap(color, 1, 22),
  };
}

export const plainStyle = createStyle(false);

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/** Server-supplied text goes to a terminal: escape sequences and control characters are removed. */
export function sanitize(text: string, max = 2000): string {
  const clean = text.replace(ANSI, '').replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '').replace(/\n/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A key id shortened for tables; the agent's and the server's own actors stay whole. */
export function shortKey(kid: string): string {
  return kid.length > 12 ? kid.slice(0, 12) : kid;
}

/**
 * `repo@sha256:<12 hex>`, the one short form of a pinned image in every view;
 * `lastPart` keeps only the last path part of the repository (for tables).
 */
export function shortImage(image: string, { lastPart = false } = {}): string {
  const at = image.indexOf('@');
  if (at === -1) return image;
  const repo = image.slice(0, at);
  return `${lastPart ? (repo.split('/').at(-1) ?? '') : repo}@${image.slice(at + 1, at + 1 + 'sha256:'.length + 12)}`;
}

/** `KEY (comment)` of a lock's holder, for one table cell. */
export function lockHolder(lock: OperatorLock): string {
  const comment = lock.key_comment !== undefined ? ` (${lock.key_comment})` : '';
  return sanitize(`${shortKey(lock.key_id)}${comment}`, 80);
}
