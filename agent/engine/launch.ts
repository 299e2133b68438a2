// Getting a role's container of a release running: create (with unsealed
// secrets), start a retained one, or reuse one that already runs.
import { UnhealthyError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { DockerPort, ContainerInfo } from '../docker.js';
import type { GuardrailPolicy } from '../core/guardrails.js';
import type { Step } from '../core/plan.js';
import { withAssetBind } from '../core/assets.js';
import { hostContainerSpec } from './bind-paths.js';
import type { RoleSecrets } from './role-secrets.js';

export type StartStep = Extract<Step, { phase: 'STARTED' }>;

export interface Launched {
  role: string;
  name: string;
  id: string;
  /** created: ours to remove on failure; started: a retained one to stop again; reused: leave alone. */
  origin: 'created' | 'started' | 'reused';
  info: ContainerInfo;
}

export interface LaunchContext {
  docker: DockerPort;
  manifest: ManifestPayload;
  deployId: number;
  hostname: string;
  network: string;
  /** Unsealed secret values by role. */
  secrets: RoleSecrets;
  /** Spec fingerprints by role (the berth.spec label). */
  fingerprints: Record<string, string>;
  policy: GuardrailPolicy;
  /** Where bridged assets are kept (agent/engine/assets.ts); absent when no role bridges them. */
  assetRoot?: string;
  /** Called as soon as a container exists, so a failure later can still clean it up. */
  onCreated: (launched: Omit<Launched, 'info'>) => void;
}

export async function launch(step: StartStep, ctx: LaunchContext): Promise<Launched> {
  const { docker } = ctx;
  let id: string;
  let origin: Launched['origin'];
  switch (step.kind) {
    case 'reuse':
      id = step.containerId;
      origin = 'reused';
      break;
    case 'start':
      id = step.containerId;
      origin = 'started';
      ctx.onCreated({ role: step.role, name: step.name, id, origin });
      await docker.start(id);
      break;
    case 'replace':
    case 'create': {
      const spec = withAssetBind(await hostContainerSpec(
        ctx.manifest,
        step.role,
        { deployId: ctx.deployId, hostname: ctx.hostname, network: ctx.network, fingerprint: ctx.fingerprints[step.role] ?? '', policy: ctx.policy },
        ctx.secrets[step.role] ?? {},
        step.replica,
      ), ctx.assetRoot, ctx.manifest, step.role);
      if (step.kind === 'replace') await docker.remove(step.containerId, { force: true });
      id = await docker.createContainer(spec);
      origin = 'created';
      ctx.onCreated({ role: step.role, name: step.name, id, origin });
      await docker.start(id);
      break;
    }
  }
  const info = await docker.inspect(id);
  if (!info) throw new UnhealthyError(`container ${step.name} disappeared right after it was started`);
  return { role: step.role, name: step.name, id, origin, info };
}

const MAX_LOG_LINES = 10;
const MAX_LOG_CHARS = 2000;

/** A check that throws, with the exit code and the last log lines, once a container stopped running. */
export function aliveCheck(docker: DockerPort, id: string, name: string): () => Promise<void> {
  return async () => {
    const info = await docker.inspect(id);
    if (!info) throw new UnhealthyError(`container ${name} was removed before it became healthy`);
    if (info.running) return;
    const tail = (await docker.logTail(id, MAX_LOG_LINES).catch(() => '')).trimEnd().slice(-MAX_LOG_CHARS);
    throw new UnhealthyError(
      `container ${name} exited with code ${info.exitCode ?? 'unknown'} before it became healthy` +
        (tail ? `; last log lines:\n${tail}` : ''),
      'check the app logs and its command',
    );
  };
}
