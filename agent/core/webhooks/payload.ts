// PURE: reading an untrusted webhook body: media type, bounded JSON, fields
// of known types, and names that follow Docker's reference grammar. Every
// failure is a typed 400/413/415 whose message names the field, never a value
// that could be a secret.
import { BerthError, PayloadTooLargeError, UserError } from '../../../shared/errors.js';
import type { IgnoredEvent, TagPush } from './types.js';

export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_EVENTS = 100;
export const MAX_DEPTH = 32;
const MAX_STRING = 1024;

export function invalid(message: string): UserError {
  return new UserError(message, undefined, 'invalid_payload');
}

export function requireBodySize(body: Buffer): void {
  if (body.length > MAX_BODY_BYTES) throw new PayloadTooLargeError(`the body is ${body.length} bytes; webhooks are capped at ${MAX_BODY_BYTES}`);
}

/** The media type without parameters, lower-cased; refused unless one of `allowed`. */
export function requireMediaType(header: string | undefined, allowed: readonly string[]): string {
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!allowed.includes(type)) {
    const got = type === '' ? 'no Content-Type' : `Content-Type ${type.slice(0, 80)}`;
    throw new BerthError('unsupported_media_type', 415, `${got}; expected ${allowed.join(' or ')}`);
  }
  return type;
}

/**
 * Nesting is counted on the raw text before JSON.parse, so a body of 64 KiB
 * of `[` is refused in one linear pass instead of recursing in the parser.
 */
function maxDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

export function parseJson(body: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalid('the body is not UTF-8');
  }
  if (maxDepth(text) > MAX_DEPTH) throw invalid(`the JSON is nested deeper than ${MAX_DEPTH}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid('the body is not JSON');
  }
}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function object(v: unknown, field: string): Json {
  if (!isObject(v)) throw invalid(`${field} must be an object`);
  return v;
}

export function optionalObject(v: unknown, field: string): Json | undefined {
  return v === undefined || v === null ? undefined : object(v, field);
}

export function string(v: unknown, field: string): string {
  if (typeof v !== 'string') throw invalid(`${field} must be a string`);
  if (v.length > MAX_STRING) throw invalid(`${field} is longer than ${MAX_STRING} characters`);
  return v;
}

export function optionalString(v: unknown, field: string): string | undefined {
  return v === undefined || v === null ? undefined : string(v, field);
}

/** An array of at most MAX_EVENTS entries: a delivery naming more is refused whole. */
export function boundedArray(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(`${field} must be an array`);
  if (v.length > MAX_EVENTS) throw invalid(`${field} has ${v.length} entries; at most ${MAX_EVENTS} per delivery`);
  return v;
}

// Docker's reference grammar (distribution/reference): lower-case path
// components joined by `/`, at most 255 characters; tags as below.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]{2,45}\\])(?::[0-9]{1,5})?$`);

export function repositoryName(v: string, field: string): string {
  if (v.length > 255 || !REPOSITORY.test(v)) throw invalid(`${field} is not a repository name`);
  return v;
}

export function tagName(v: string, field: string): string {
  if (!TAG.test(v)) throw invalid(`${field} is not a tag`);
  return v;
}

export function registryHost(v: string, field: string): string {
  if (v.length > 255 || !HOST.test(v)) throw invalid(`${field} is not a registry host`);
  return v.toLowerCase();
}

/** `host[:port]/path` as Docker reads it: the first part is a registry when it has a dot, a port or is localhost. */
export function splitRepository(v: string, field: string): { registry?: string; repository: string } {
  const slash = v.indexOf('/');
  const first = slash > 0 ? v.slice(0, slash) : '';
  if (first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return { registry: registryHost(first, field), repository: repositoryName(v.slice(slash + 1), field) };
  }
  return { repository: repositoryName(v, field) };
}

/** The host of `host[:port]/path...` (Harbor's resource_url, Quay's docker_url). */
export function hostOf(reference: string, field: string): string {
  const host = reference.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? '';
  return registryHost(host, field);
}

/** Collects a delivery's events; `tag` is checked here so every source checks it alike. */
export class EventList {
  readonly events: TagPush[] = [];
  readonly ignored: IgnoredEvent[] = [];

  push(e: { registry?: string | undefined; repository: string; tag: string; eventId?: string | undefined }, field: string): void {
    this.events.push({
      ...(e.registry !== undefined ? { registry: e.registry } : {}),
      repository: e.repository,
      tag: tagName(e.tag, field),
      ...(e.eventId !== undefined ? { eventId: e.eventId } : {}),
    });
  }

  ignore(reason: string, repository?: string, tag?: string): void {
    this.ignored.push({ reason, ...(repository !== undefined ? { repository } : {}), ...(tag !== undefined ? { tag } : {}) });
  }
}

/** A vendor's delivery or event id: short and plain, since it lands in records and logs. */
export function deliveryIdValue(v: string, field: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(v)) throw invalid(`${field} is not a delivery id`);
  return v;
}
