// deploy.yml, the skeleton subset of Kamal 2's keys with Kamal's defaults.
// Every problem is reported with its key path and line (`proxy/app_port: should be
// a number (deploy.yml:7)`), like Kamal's validator.

import { z } from 'zod';
import { ConfigError } from '../../shared/errors.js';
import { DEFAULT_AGENT_PORT, formatServerAddress, isValidHostname, parseServerAddress, type ServerAddress } from '../address.js';
import { parseImageReference } from '../image-reference.js';
import type { KeyPath } from './yaml.js';

export interface DeployConfig {
  service: string;
  image: string;
  servers: ServerAddress[];
  proxy: {
    hosts: string[];
    app_port: number;
    healthcheck: { path: string; interval: number; timeout: number };
    response_timeout?: number;
  };
  env: { clear: Record<string, string> };
  deploy_timeout: number;
  drain_timeout: number;
  readiness_delay: number;
  stop_timeout: number;
  retain_containers: number;
  agent: { port: number };
}

interface Issue {
  path: KeyPath;
  message: string;
}

const SERVICE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ENV_VALUE = 32 * 1024;
const MAX_ENV_VARS = 500;

const seconds = (min: number) => z.number().int().min(min).max(3600);
const port = z.number().int().min(1).max(65535);
const hostname = z.string().max(253).refine(isValidHostname, { error: 'should be a hostname like app.example.com' });

const proxySchema = z
  .strictObject({
    host: hostname.optional(),
    hosts: z.array(hostname).min(1).max(100).optional(),
    app_port: port.default(80),
    healthcheck: z
      .strictObject({
        path: z.string().regex(/^\/[\x21-\x7e]{0,254}$/, { error: 'should be a URL path starting with /' }).default('/up'),
        interval: seconds(1).default(1),
        timeout: seconds(1).default(5),
      })
      .prefault({}),
    response_timeout: seconds(1).optional(),
  })
  .superRefine((proxy, ctx) => {
    if (proxy.host !== undefined && proxy.hosts !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'use either host or hosts, not both' });
    } else if (proxy.host === undefined && proxy.hosts === undefined) {
      ctx.addIssue({ code: 'custom', path: ['host'], message: 'is required (the hostname the router serves this app on)' });
    }
  });

const configSchema = z.strictObject({
  service: z.string().regex(SERVICE, { error: 'should be lowercase letters, digits, - or _ (at most 63, starting with a letter or digit)' }),
  image: z.string().superRefine((image, ctx) => {
    try {
      parseImageReference(image);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'is not a valid image reference' });
    }
  }),
  servers: z.unknown().optional(),
  proxy: proxySchema.optional(),
  env: z.unknown().optional(),
  deploy_timeout: seconds(1).default(30),
  drain_timeout: seconds(0).default(30),
  readiness_delay: seconds(0).default(7),
  retain_containers: z.number().int().min(1).max(100).default(5),
  agent: z.strictObject({ port: port.optional() }).optional(),
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const key of path) {
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

const NOUNS: Record<string, string> = { object: 'a map', array: 'a list', int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false' };

function zodIssues(issue: z.core.$ZodIssue, raw: unknown): Issue[] {
  const path = issue.path as KeyPath;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key' }));
    case 'invalid_type':
      return [{ path, message: valueAt(raw, path) === undefined ? 'is required' : `should be ${NOUNS[issue.expected] ?? issue.expected}` }];
    case 'too_small':
      return [{ path, message: issue.origin === 'array' ? `should have at least ${issue.minimum} item(s)` : issue.origin === 'string' ? 'should not be empty' : `should be at least ${issue.minimum}` }];
    case 'too_big':
      return [{ path, message: issue.origin === 'array' ? `should have at most ${issue.maximum} items` : issue.origin === 'string' ? `should be at most ${issue.maximum} characters` : `should be at most ${issue.maximum}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

function checkServerList(entries: unknown[], path: KeyPath, defaultPort: number, issues: Issue[]): ServerAddress[] {
  if (entries.length === 0) issues.push({ path, message: 'should list at least one server' });
  const out: ServerAddress[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    if (typeof entry !== 'string') {
      issues.push({ path: [...path, i], message: isPlainObject(entry) ? 'tagged server entries are not supported yet' : 'should be HOST or HOST:PORT' });
      return;
    }
    try {
      const address = parseServerAddress(entry, defaultPort);
      const key = formatServerAddress(address);
      if (seen.has(key)) issues.push({ path: [...path, i], message: `${key} is listed twice` });
      seen.add(key);
      out.push(address);
    } catch (err) {
      issues.push({ path: [...path, i], message: err instanceof Error ? err.message : 'should be HOST or HOST:PORT' });
    }
  });
  return out;
}

/** `servers:` is a list, or Kamal's role map (`web: [hosts]` / `web: { hosts: [...] }`). */
function checkServers(raw: unknown, defaultPort: number, issues: Issue[]): ServerAddress[] {
  if (raw === undefined || raw === null) {
    issues.push({ path: ['servers'], message: 'is required' });
    return [];
  }
  if (Array.isArray(raw)) return checkServerList(raw, ['servers'], defaultPort, issues);
  if (!isPlainObject(raw)) {
    issues.push({ path: ['servers'], message: 'should be a list of hosts' });
    return [];
  }
  for (const role of Object.keys(raw)) {
    if (role !== 'web') issues.push({ path: ['servers', role], message: 'only the web role is supported for now' });
  }
  const web = raw.web;
  if (Array.isArray(web)) return checkServerList(web, ['servers', 'web'], defaultPort, issues);
  if (isPlainObject(web)) {
    for (const key of Object.keys(web)) {
      if (key !== 'hosts') issues.push({ path: ['servers', 'web', key], message: 'unknown key' });
    }
    if (Array.isArray(web.hosts)) return checkServerList(web.hosts, ['servers', 'web', 'hosts'], defaultPort, issues);
    issues.push({ path: ['servers', 'web', 'hosts'], message: web.hosts === undefined ? 'is required' : 'should be a list of hosts' });
    return [];
  }
  issues.push({ path: ['servers', 'web'], message: web === undefined ? 'is required' : 'should be a list of hosts' });
  return [];
}

function checkEnvMap(raw: unknown, path: KeyPath, issues: Issue[]): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    issues.push({ path, message: 'should be a map of NAME: value' });
    return {};
  }
  const out: Record<string, string> = {};
  const entries = Object.entries(raw);
  if (entries.length > MAX_ENV_VARS) issues.push({ path, message: `should have at most ${MAX_ENV_VARS} variables` });
  for (const [name, value] of entries.slice(0, MAX_ENV_VARS)) {
    if (!ENV_NAME.test(name)) {
      issues.push({ path: [...path, name], message: 'is not a valid variable name' });
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      const text = String(value);
      if (text.length > MAX_ENV_VALUE || text.includes('\0')) issues.push({ path: [...path, name], message: `should be text of at most ${MAX_ENV_VALUE} characters` });
      else out[name] = text;
    } else {
      issues.push({ path: [...path, name], message: 'should be a string' });
    }
  }
  return out;
}

/** `env:` is `{ clear: {...} }` or, like Kamal, a plain map meaning clear. */
function checkEnv(raw: unknown, issues: Issue[]): { clear: Record<string, string> } {
  if (raw === undefined || raw === null) return { clear: {} };
  if (!isPlainObject(raw)) {
    issues.push({ path: ['env'], message: 'should be a map' });
    return { clear: {} };
  }
  const structured = ['clear', 'secret', 'tags'].some((key) => key in raw);
  if (!structured) return { clear: checkEnvMap(raw, ['env'], issues) };
  for (const key of Object.keys(raw)) {
    if (key === 'secret') issues.push({ path: ['env', 'secret'], message: 'secrets are not supported yet' });
    else if (key === 'tags') issues.push({ path: ['env', 'tags'], message: 'env tags are not supported yet' });
    else if (key !== 'clear') issues.push({ path: ['env', key], message: 'unknown key' });
  }
  return { clear: checkEnvMap(raw.clear, ['env', 'clear'], issues) };
}

function withoutExtensionKeys(raw: Record<string, unknown>): Record<string, unknown> {
  // Kamal ignores top-level `x-*` keys so files can hold YAML anchors there.
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !key.startsWith('x-')));
}

function renderIssues(issues: Issue[], fileLabel: string, lineOf: (path: KeyPath) => number | undefined): string {
  const located = issues.map((issue) => ({ ...issue, line: lineOf(issue.path) }));
  located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const shown = located.slice(0, 3).map(({ path, message, line }) => {
    const where = line === undefined ? fileLabel : `${fileLabel}:${line}`;
    return `${path.length ? `${path.join('/')}: ` : ''}${message} (${where})`;
  });
  const more = located.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

export function validateConfig(raw: unknown, fileLabel: string, lineOf: (path: KeyPath) => number | undefined): DeployConfig {
  const fail = (issues: Issue[]): never => {
    throw new ConfigError(renderIssues(issues, fileLabel, lineOf), `see the deploy.yml reference; the file is ${fileLabel}`);
  };
  if (!isPlainObject(raw)) fail([{ path: [], message: raw == null ? 'the file is empty; it needs at least service, image, servers and proxy' : 'should be a map of settings' }]);
  const input = withoutExtensionKeys(raw as Record<string, unknown>);

  const issues: Issue[] = [];
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) for (const issue of parsed.error.issues) issues.push(...zodIssues(issue, input));
  const agentPort = parsed.success ? parsed.data.agent?.port ?? DEFAULT_AGENT_PORT : DEFAULT_AGENT_PORT;
  const servers = checkServers(input.servers, agentPort, issues);
  const env = checkEnv(input.env, issues);
  if (parsed.success && !parsed.data.proxy) issues.push({ path: ['proxy'], message: 'is required: set proxy.host to the hostname the router serves this app on' });
  if (!parsed.success || issues.length > 0) return fail(issues);

  const data = parsed.data;
  const proxy = data.proxy!;
  const hosts = (proxy.hosts ?? (proxy.host ? [proxy.host] : [])).map((h) => h.toLowerCase().replace(/\.$/, ''));
  return {
    service: data.service,
    image: data.image,
    servers,
    proxy: {
      hosts: [...new Set(hosts)],
      app_port: proxy.app_port,
      healthcheck: proxy.healthcheck,
      ...(proxy.response_timeout !== undefined ? { response_timeout: proxy.response_timeout } : {}),
    },
    env,
    deploy_timeout: data.deploy_timeout,
    drain_timeout: data.drain_timeout,
    readiness_delay: data.readiness_delay,
    stop_timeout: 10,
    retain_containers: data.retain_containers,
    agent: { port: agentPort },
  };
}
