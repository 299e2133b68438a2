// A new container of a release's role that runs one command and goes: what
// `deploy exec` (without --reuse) and each cron run start. It gets the role's
// whole environment with its secrets unsealed, its options, and the bind
// guard of the agent's policy today (a tightened policy applies to new
// containers, not the one the release was accepted under); restart no.
import { randomBytes } from 'node:crypto';
import type { JWK } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { LABEL, type ContainerSpec } from '../core/containers.js';
import { guardrailPolicy, type GuardrailPolicy } from '../core/guardrails.js';
import { hostContainerSpec } from '../engine/bind-paths.js';
import { openRoleSecrets, type Unseal } from '../engine/role-secrets.js';

export interface OneOffDeps {
  /** BERTH_HOST / KAMAL_HOST, as for app containers. */
  hostname: string;
  network: string;
  sealingPrivateJwk: JWK;
  guardrails?: GuardrailPolicy | undefined;
  unseal?: Unseal;
}

export interface OneOff {
  manifest: ManifestPayload;
  deployId: number;
  role: string;
  cmd: readonly string[];
  /** berth.kind: exec, cron … */
  kind: string;
  /** Labels beside the role's (berth.cron=<job>). */
  labels?: Record<string, string>;
  /** The part of the name after the app container's: `exec`, `cron-<job>`; 8 random hex follow. */
  suffix: string;
}

/** The spec, and the role's unsealed secrets (a cron run redacts them from its output). */
export async function oneOffContainerSpec(deps: OneOffDeps, o: OneOff): Promise<{ spec: ContainerSpec; secrets: Record<string, string> }> {
  const secrets = (await openRoleSecrets(o.manifest, deps.sealingPrivateJwk, deps.unseal ?? defaultUnseal))[o.role] ?? {};
  const policy = deps.guardrails ?? guardrailPolicy();
  const spec = await hostContainerSpec(o.manifest, o.role, { deployId: o.deployId, hostname: deps.hostname, network: deps.network, fingerprint: '', policy }, secrets);
  const labels: Record<string, string> = { ...spec.labels, [LABEL.kind]: o.kind, ...o.labels };
  delete labels[LABEL.spec];
  // It runs beside the app container: the role's host ports and network aliases stay the app's.
  const { aliases: _aliases, ...rest } = spec;
  const { PortBindings: _ports, ...host } = spec.host;
  return {
    spec: { ...rest, host, name: `${spec.name}-${o.suffix}-${randomBytes(4).toString('hex')}`, cmd: [...o.cmd], labels, restartPolicy: 'no' },
    secrets,
  };
}
