// `proxy:` at the top level, under a role, or under an accessory: Kamal 2's
// kamal-proxy settings, which Berth's router implements. A role's proxy is
// deep-merged over the top-level one, as Kamal does.

import { z } from 'zod';
import { isValidHostname } from '../address.js';
import { DEFAULT_HEALTH_PATH } from '../../shared/manifest.js';
import { MAX_BUFFER_MEMORY } from '../../shared/routes.js';
import { Findings, isPlainObject, parseSection } from './issues.js';
import { deepMerge } from './merge.js';
import type { ProxyConfig } from './types.js';
import type { KeyPath } from './yaml.js';

const seconds = (min: number) => z.number().int().min(min).max(3600);
const hostname = z.string().max(253).refine((h) => isValidHostname(h) || /^\*\.[a-z0-9.-]+$/i.test(h), { error: 'should be a hostname like app.example.com' });
const secretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'should be the name of a secret' });
const urlPath = z.string().regex(/^\/[\x21-\x7e]{0,254}$/, { error: 'should be a URL path starting with /' });
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,100}$/, { error: 'should be an HTTP header name' });
const bytes = z.number().int().min(0).max(2 ** 50);

export const proxySchema = z.strictObject({
  host: z.string().max(2000).optional(),
  hosts: z.array(hostname).min(1).max(100).optional(),
  app_port: z.number().int().min(1).max(65535).optional(),
  ssl: z.union([z.boolean(), z.strictObject({ certificate_pem: secretName, private_key_pem: secretName })], { error: 'should be a boolean, or a map of certificate_pem and private_key_pem' }).optional(),
  ssl_redirect: z.boolean().optional(),
  forward_headers: z.boolean().optional(),
  response_timeout: seconds(1).optional(),
  healthcheck: z.strictObject({ path: urlPath.optional(), interval: seconds(1).optional(), timeout: seconds(1).optional() }).optional(),
  path_prefix: z.union([z.string().max(4000), z.array(urlPath).min(1).max(20)], { error: 'should be a URL path or a list of them' }).optional(),
  path_prefixes: z.array(urlPath).min(1).max(20).optional(),
  strip_path_prefix: z.boolean().optional(),
  buffering: z
    .strictObject({ requests: z.boolean().optional(), responses: z.boolean().optional(), max_request_body: bytes.optional(), max_response_body: bytes.optional(), memory: bytes.max(MAX_BUFFER_MEMORY).optional() })
    .optional(),
  logging: z.strictObject({ request_headers: z.array(headerName).max(50).optional(), response_headers: z.array(headerName).max(50).optional() }).optional(),
  // kamal-proxy's own boot settings (ports, image, ...): Berth's router is set up on the agent.
  run: z.record(z.string(), z.unknown()).optional(),
});

export type ProxyInput = z.infer<typeof proxySchema>;

/** Structure only; `true`/`false` (a role's on/off switch) are handled by the caller. */
export function parseProxy(raw: unknown, path: KeyPath, findings: Findings): ProxyInput | undefined {
  if (raw === null || raw === undefined) return {};
  const parsed = parseSection(proxySchema, raw, path, findings);
  if (parsed?.run !== undefined) findings.warn([...path, 'run'], "ignored: kamal-proxy's boot settings do not apply; Berth's router is configured on the agent (berth-agent router)");
  if (typeof parsed?.path_prefix === 'string') {
    // Kamal splits `path_prefix` on commas.
    parsed.path_prefix.split(',').forEach((p) => {
      if (!urlPath.safeParse(p.trim()).success) findings.error([...path, 'path_prefix'], `"${p.trim().slice(0, 100)}" should be a URL path starting with /`);
    });
  }
  if (parsed?.host !== undefined) {
    // Kamal splits `host` on commas.
    parsed.host.split(',').forEach((h) => {
      if (!isValidHostname(h.trim()) && !/^\*\.[a-z0-9.-]+$/i.test(h.trim())) findings.error([...path, 'host'], `"${h.trim().slice(0, 100)}" should be a hostname like app.example.com`);
    });
  }
  return parsed;
}

/** Defaults applied to a (merged) proxy input; `path` is where conflicts are reported. */
export function resolveProxy(input: ProxyInput, path: KeyPath, findings: Findings, report = true): ProxyConfig {
  if (report && input.host !== undefined && input.hosts !== undefined) findings.error([...path, 'hosts'], "specify one of 'host' or 'hosts', not both");
  const hosts = (input.hosts ?? input.host?.split(',') ?? []).map((h) => h.trim().toLowerCase().replace(/\.$/, '')).filter((h) => h !== '');
  if (report && input.ssl && hosts.length === 0) findings.error([...path, 'ssl'], 'needs a host: set proxy/host to enable automatic SSL');
  // Kamal: `path_prefixes`, else `path_prefix` split on commas.
  const prefixes = input.path_prefixes ?? (typeof input.path_prefix === 'string' ? input.path_prefix.split(',').map((p) => p.trim()) : input.path_prefix);
  // Kamal takes path_prefixes over path_prefix without complaint; say which one is read.
  if (report && input.path_prefixes !== undefined && input.path_prefix !== undefined) findings.warn([...path, 'path_prefix'], 'not in force: path_prefixes is also set, and is what is read (as in Kamal)');
  return {
    hosts: [...new Set(hosts)],
    app_port: input.app_port ?? 80,
    ssl: input.ssl ?? false,
    ...(input.ssl_redirect !== undefined ? { ssl_redirect: input.ssl_redirect } : {}),
    ...(input.forward_headers !== undefined ? { forward_headers: input.forward_headers } : {}),
    healthcheck: { path: input.healthcheck?.path ?? DEFAULT_HEALTH_PATH, interval: input.healthcheck?.interval ?? 1, timeout: input.healthcheck?.timeout ?? 5 },
    response_timeout: input.response_timeout ?? 30,
    ...(prefixes ? { path_prefixes: prefixes } : {}),
    ...(input.strip_path_prefix !== undefined ? { strip_path_prefix: input.strip_path_prefix } : {}),
    ...(input.buffering ? { buffering: input.buffering } : {}),
    ...(input.logging ? { logging: input.logging } : {}),
  };
}

/** A role's proxy over the top-level one (Kamal: `top.deep_merge(role)`). */
export function mergeProxyInputs(top: ProxyInput | undefined, role: ProxyInput | undefined): ProxyInput {
  const base: ProxyInput = { ...top };
  // A role naming its own host(s) replaces the top-level ones, whichever key each used.
  if (role?.host !== undefined || role?.hosts !== undefined) {
    delete base.host;
    delete base.hosts;
  }
  const merged = deepMerge(base, role ?? {});
  return isPlainObject(merged) ? (merged as ProxyInput) : {};
}
