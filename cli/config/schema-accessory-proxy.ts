// An accessory's `proxy:` (Kamal 2: "run your accessory behind the Kamal
// proxy"): the keys and defaults of a role's proxy, read by the same parser.
// The agent's router routes its hosts to the accessory's container once it
// answers its health check. Kamal does not merge the top-level proxy into it.

import type { Findings } from './issues.js';
import { parseProxy, resolveProxy } from './schema-proxy.js';
import type { ProxyConfig } from './types.js';
import type { KeyPath } from './yaml.js';

export function checkAccessoryProxy(raw: unknown, path: KeyPath, findings: Findings): ProxyConfig | undefined {
  // Kamal: `proxy.present?`, so an empty or false proxy means none.
  if (raw === undefined || raw === null || raw === false) return undefined;
  if (raw === true) {
    findings.error(path, 'should be a map (host, app_port, ...), as for a role');
    return undefined;
  }
  const input = parseProxy(raw, path, findings);
  if (!input) return undefined;
  const proxy = resolveProxy(input, path, findings);
  // The router routes by host name; a catch-all accessory would take every host a role does not.
  if (proxy.hosts.length === 0) findings.error([...path, 'host'], 'is required: the router routes an accessory by host name');
  if (typeof proxy.ssl === 'object') {
    findings.error([...path, 'ssl'], 'a given certificate is not supported for accessories; use ssl: true (a certificate from the agent\'s ACME server)');
  }
  const wildcard = proxy.hosts.find((h) => h.startsWith('*'));
  if (wildcard) findings.error([...path, 'host'], `${wildcard}: an accessory is routed by plain host names only`);
  return proxy;
}
