// Small value checkers shared by the sections: labels, logging, cmd, paths.

import { Findings, isPlainObject } from './issues.js';
import { splitShellWords } from './shell-words.js';
import type { LoggingConfig } from './types.js';
import type { KeyPath } from './yaml.js';

const MAX_TEXT = 4096;
const MAX_ENTRIES = 200;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const LOG_OPTION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Kamal's "stringish": strings, numbers and booleans, as text. */
export function stringish(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function checkText(raw: unknown, path: KeyPath, findings: Findings, max = MAX_TEXT): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const text = stringish(raw);
  if (text === undefined) findings.error(path, 'should be a string');
  else if (text.length > max || text.includes('\0')) findings.error(path, `should be at most ${max} characters`);
  else return text;
  return undefined;
}

export function checkStringMap(raw: unknown, path: KeyPath, findings: Findings, keyPattern: RegExp, what: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    findings.error(path, `should be a map of ${what}`);
    return {};
  }
  const entries = Object.entries(raw);
  if (entries.length > MAX_ENTRIES) findings.error(path, `should have at most ${MAX_ENTRIES} entries`);
  const out: Record<string, string> = {};
  for (const [key, value] of entries.slice(0, MAX_ENTRIES)) {
    if (!keyPattern.test(key)) {
      findings.error([...path, key], `is not a valid ${what.replace(/s?: .*$/, '')} name`);
      continue;
    }
    const text = checkText(value, [...path, key], findings);
    if (text !== undefined) out[key] = text;
  }
  return out;
}

/** `reserved`: a role's or accessory's labels, where Kamal refuses the labels it sets itself. */
export function checkLabels(raw: unknown, path: KeyPath, findings: Findings, reserved = false): Record<string, string> {
  const labels = checkStringMap(raw, path, findings, LABEL_KEY, 'labels');
  for (const key of Object.keys(labels)) {
    if (reserved && ['destination', 'role', 'service'].includes(key)) findings.error([...path, key], 'invalid label: destination, role and service are reserved labels (Kamal sets them)');
    if (key.startsWith('traefik.')) findings.warn([...path, key], 'Traefik labels have no effect (Kamal 2 and Berth route with proxy/host)');
    if (key.startsWith('berth.')) findings.error([...path, key], 'berth.* labels are set by the agent');
  }
  return labels;
}

export function checkLogging(raw: unknown, path: KeyPath, findings: Findings): LoggingConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map with driver and options');
    return undefined;
  }
  for (const key of Object.keys(raw)) if (key !== 'driver' && key !== 'options') findings.error([...path, key], 'unknown key');
  const driver = checkText(raw.driver, [...path, 'driver'], findings, 64);
  if (driver !== undefined && !/^[a-z0-9][a-z0-9_.:/-]*$/i.test(driver)) findings.error([...path, 'driver'], 'should be a Docker logging driver name');
  const options = checkStringMap(raw.options, [...path, 'options'], findings, LOG_OPTION, 'log options');
  return driver === undefined ? { options } : { driver, options };
}

/** A container command as Kamal writes it (one string), split into the words the container gets. */
export function checkCmd(raw: unknown, path: KeyPath, findings: Findings): string[] | undefined {
  const text = checkText(raw, path, findings, 16 * 1024);
  if (text === undefined) return undefined;
  const split = splitShellWords(text.trim());
  if (split.ok) return split.words;
  findings.error(path, `${split.reason}`);
  return undefined;
}

export function checkPathString(raw: unknown, path: KeyPath, findings: Findings): string | undefined {
  const text = checkText(raw, path, findings, 1024);
  if (text !== undefined && (text === '' || /[\n\r]/.test(text))) {
    findings.error(path, 'should be a path');
    return undefined;
  }
  return text;
}

export function checkBoolean(raw: unknown, path: KeyPath, findings: Findings): boolean | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'boolean') {
    findings.error(path, 'should be a boolean');
    return undefined;
  }
  return raw;
}

export function checkInteger(raw: unknown, path: KeyPath, findings: Findings, min: number, max: number): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw)) findings.error(path, typeof raw === 'number' ? 'should be an integer' : 'should be a number');
  else if (raw < min) findings.error(path, `should be at least ${min}`);
  else if (raw > max) findings.error(path, `should be at most ${max}`);
  else return raw;
  return undefined;
}
