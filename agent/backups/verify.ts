// A backup's `verify`: the dump restored into a throwaway container of its
// accessory (same image, env with secrets unsealed, files; no port, no kept
// directories or volumes, so the live data is never mounted; labelled
// berth.kind=backup and without the accessory label or network alias, so
// nothing mistakes it for the accessory), then the verify command run there.
//
// The server in a fresh container needs a moment to accept connections: with
// a health check (the image's HEALTHCHECK or the accessory's options) the
// restore waits while it is `starting`; either way the restore command is
// retried (the file re-read each time) until it succeeds, the container
// stops, or the signal aborts: the restore command
// must therefore be safe to repeat after a failure, as `pg_restore
// --single-transaction` or `psql -1` are.
import { randomBytes } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import type { AccessorySpec, ManifestPayload } from '../../shared/manifest.js';
import type { BackupCompression, BackupSpec } from '../../shared/manifest-backups.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { openAccessorySecrets } from '../accessories/secrets.js';
import { ACCESSORY_LABEL, accessoryBase, accessoryContainerName, accessoryContainerSpec, accessoryRoot } from '../core/accessories.js';
import { LABEL } from '../core/containers.js';
import { Redactor } from '../core/cron/output.js';
import { guardrailPolicy, type GuardrailPolicy } from '../core/guardrails.js';
import { withoutHostReach } from '../core/option-mounts.js';
import type { DockerPort } from '../docker.js';
import type { Unseal } from '../engine/role-secrets.js';
import type { JWK } from '../../shared/api-types.js';
import { execWithInput, lastLines } from './exec-input.js';
import { BACKUP_KIND } from './restore-data.js';

export interface VerifyDeps {
  docker: DockerPort;
  agentId: string;
  stateDir: string;
  network: string;
  sealingPrivateJwk: JWK;
  unseal?: Unseal;
  /** The agent's guardrails (the accessory's options are judged again); the default policy when absent. */
  policy?: GuardrailPolicy;
  /** Pause between restore attempts while the server starts (ms); 1000 when absent. */
  retryMs?: number;
}

export interface VerifyInput {
  service: string;
  destination: string;
  backup: string;
  spec: BackupSpec;
  accessory: AccessorySpec;
  /** The compressed PLAINTEXT dump on disk (the agent cannot decrypt an encrypted file: it verifies before encrypting). */
  file: string;
  compression: BackupCompression;
  /** Aborted when the backup's timeout passes. */
  signal: AbortSignal;
}

const OUTPUT_LINES = 20;

/**
 * Restores the dump into a throwaway container of the accessory (same image,
 * env and files, no ports, no kept directories or volumes, removed after) and
 * runs the backup's `verify` command there. `output`: the commands' last
 * output lines, the accessory's secret values replaced.
 */
export async function verifyDump(deps: VerifyDeps, input: VerifyInput): Promise<{ passed: boolean; output: string }> {
  const name = input.spec.accessory as string;
  const accessory: AccessorySpec = { ...input.accessory, directories: [], volumes: [], ...(input.accessory.options ? { options: withoutHostReach(input.accessory.options) } : {}) };
  delete (accessory as { port?: string }).port;
  const m = { service: input.service, destination: input.destination, aud: deps.agentId, accessories: { [name]: accessory } } as unknown as ManifestPayload;
  const secrets = await openAccessorySecrets(m, name, input.accessory, deps.sealingPrivateJwk, deps.unseal ?? defaultUnseal);
  const base = accessoryBase(accessoryRoot(await realpath(deps.stateDir)), m, name);
  const spec = accessoryContainerSpec(m, name, { network: deps.network, policy: deps.policy ?? guardrailPolicy(), base, summary: '' }, secrets.env);
  const labels: Record<string, string> = { ...spec.labels, [LABEL.kind]: BACKUP_KIND, 'berth.backup': input.backup };
  delete labels[ACCESSORY_LABEL];
  delete labels[LABEL.spec];
  const id = await deps.docker.createContainer({
    ...spec,
    name: `${accessoryContainerName(m, name)}-verify-${randomBytes(4).toString('hex')}`,
    labels,
    aliases: [],
    restartPolicy: 'no',
  });
  const exec = (argv: string[], withFile: boolean) =>
    execWithInput(deps.docker, {
      containerId: id, argv, user: input.spec.user, secrets: secrets.env, signal: input.signal,
      ...(withFile ? { file: { path: input.file, compression: input.compression } } : {}),
    });
  try {
    await deps.docker.start(id);
    let restored;
    for (;;) {
      if (input.signal.aborted) return { passed: false, output: `verify: the restore into the throwaway ${name} did not succeed before the backup's timeout${restored ? `\n${lastLines(restored.output, OUTPUT_LINES)}` : ''}` };
      const info = await deps.docker.inspect(id);
      if (!info?.running) {
        // Its own log may print what the server was started with: the secret values are replaced here too.
        const redactor = new Redactor(secrets.env);
        const log = await deps.docker.logTail(id, OUTPUT_LINES).catch(() => '');
        const tail = redactor.push(log) + redactor.flush();
        return { passed: false, output: `verify: the throwaway ${name} container stopped (${info?.state ?? 'gone'}, exit ${info?.exitCode ?? '?'})\n${tail}`.trim() };
      }
      // A health check (the image's HEALTHCHECK or the accessory's options) says when the server is ready.
      if (info.health === 'starting') {
        await sleep(deps.retryMs ?? 1000, input.signal);
        continue;
      }
      restored = await exec(input.spec.restore as string[], true);
      if (restored.exitCode === 0) break;
      await sleep(deps.retryMs ?? 1000, input.signal);
    }
    if (!input.spec.verify) return { passed: true, output: lastLines(restored.output, OUTPUT_LINES) };
    const verified = await exec(input.spec.verify, false);
    const output = lastLines([restored.output, verified.output].filter((t) => t.trim() !== '').join('\n'), OUTPUT_LINES);
    return { passed: verified.exitCode === 0 && !input.signal.aborted, output };
  } finally {
    await deps.docker.remove(id, { force: true }).catch(() => undefined);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
