// `registry:` as Kamal 2 reads it: server (default Docker Hub), and username /
// password each either a literal or a one-item list naming a secret. A server
// `localhost:PORT` is Kamal's local registry (2.8), which needs no login.

import { Findings, isPlainObject } from './issues.js';
import { ENV_NAME } from './schema-env.js';
import { checkText } from './schema-values.js';
import type { Credential, RegistryConfig } from './types.js';
import type { KeyPath } from './yaml.js';

const SERVER = /^[a-z0-9.-]+(:\d{1,5})?$/i;

function checkCredential(raw: unknown, path: KeyPath, findings: Findings): Credential | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (Array.isArray(raw)) {
    const [name] = raw;
    if (raw.length !== 1 || typeof name !== 'string' || !ENV_NAME.test(name)) {
      findings.error(path, 'should be a string, or a list with the name of one secret');
      return undefined;
    }
    return { secret: name };
  }
  const literal = checkText(raw, path, findings, 8192);
  return literal === undefined ? undefined : { literal };
}

/** Kamal's local registry: it runs on the deploying machine and reaches servers through SSH tunnels. */
export function isLocalRegistry(registry: RegistryConfig | undefined): boolean {
  return /^localhost(:|$)/.test(registry?.server ?? '');
}

export function checkRegistry(raw: unknown, path: KeyPath, findings: Findings): RegistryConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map with server, username and password');
    return undefined;
  }
  for (const key of Object.keys(raw)) if (!['server', 'username', 'password'].includes(key)) findings.error([...path, key], 'unknown key');
  const out: RegistryConfig = {};
  const server = checkText(raw.server, [...path, 'server'], findings, 253);
  if (server !== undefined) {
    if (SERVER.test(server)) out.server = server.toLowerCase();
    else findings.error([...path, 'server'], 'should be a registry host like ghcr.io or registry.example.com:5000');
  }
  const username = checkCredential(raw.username, [...path, 'username'], findings);
  const password = checkCredential(raw.password, [...path, 'password'], findings);
  if (username) out.username = username;
  if (password) out.password = password;
  if ((username === undefined) !== (password === undefined) && raw.username !== undefined !== (raw.password !== undefined)) {
    findings.error([...path, username === undefined ? 'username' : 'password'], 'is required when the other credential is set');
  }
  if (isLocalRegistry(out)) {
    findings.warn([...path, 'server'], `is Kamal's local registry, which is not in force: Kamal runs it on the deploying machine and tunnels it to servers over SSH, but Berth's agents pull over their own network, so each server needs a registry at ${out.server} itself (or push to a registry the servers reach)`);
  }
  if (password && 'literal' in password) findings.warn([...path, 'password'], 'is written in deploy.yml in clear; list a secret name instead (password: [KAMAL_REGISTRY_PASSWORD])');
  return out;
}
