// Top-level keys Kamal accepts that mean nothing to a pull-based agent (one
// warning each, saying why), Kamal 1 keys (an error naming the Kamal 2 / Berth
// key, or a mapping with a warning where it is unambiguous), and `x-` keys,
// which Kamal ignores so files can hold YAML anchors there.

import type { Findings } from './issues.js';

const IGNORED: Record<string, string> = {
  ssh: 'Berth does not connect to servers over SSH; each server runs an agent that pulls the release over HTTPS',
  sshkit: 'Berth does not connect to servers over SSH; each server runs an agent that pulls the release over HTTPS',
  builder: 'Berth does not build images; build and push the image first (e.g. in CI) and deploy resolves its tag to a digest',
  output: "Kamal's output loggers do not apply; deploy prints progress itself (--json for machines)",
  run_directory: 'the agent keeps its state in its own state directory (berth-agent --state-dir)',
  hooks_path: 'Berth does not run Kamal hooks (they ran on the deploying machine around SSH steps)',
  hooks_output: 'Berth does not run Kamal hooks (they ran on the deploying machine around SSH steps)',
};

export const KAMAL1_ERRORS: Record<string, string> = {
  traefik: 'is a Kamal 1 key: Kamal 2 replaced Traefik with kamal-proxy, and Berth routes with its own router; remove traefik: and set proxy: (host, app_port, ssl)',
  healthcheck: 'is a Kamal 1 key: use proxy/healthcheck (path, interval, timeout in seconds); port becomes proxy/app_port and max_attempts is covered by deploy_timeout',
};

// Kamal 1 names whose Kamal 2 meaning is the same setting under a new name.
const KAMAL1_RENAMED: Record<string, string> = {
  stop_wait_time: 'drain_timeout',
  primary_web_role: 'primary_role',
};

export interface CompatResult {
  values: Record<string, unknown>;
  /** New key → the key written in the file, for keys read under a new name. */
  writtenAs: Record<string, string>;
}

/** The top-level map with ignored, `x-` and renamed keys taken care of; findings get the rest. */
export function applyKamalCompat(raw: Record<string, unknown>, findings: Findings): CompatResult {
  const out: Record<string, unknown> = {};
  const writtenAs: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith('x-')) continue;
    const ignored = IGNORED[key];
    if (ignored !== undefined) {
      findings.warn([key], `ignored: ${ignored}`);
      continue;
    }
    const kamal1 = KAMAL1_ERRORS[key];
    if (kamal1 !== undefined) {
      findings.error([key], kamal1);
      continue;
    }
    const renamed = KAMAL1_RENAMED[key];
    if (renamed !== undefined) {
      if (renamed in raw) {
        findings.error([key], `is the Kamal 1 name of ${renamed}, which is also set; keep only ${renamed}`);
      } else {
        findings.warn([key], `is the Kamal 1 name of ${renamed}; read as ${renamed}: ${String(value)}`);
        out[renamed] = value;
        writtenAs[renamed] = key;
      }
      continue;
    }
    out[key] = value;
  }
  return { values: out, writtenAs };
}
