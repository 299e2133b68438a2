// INTERFACE ONLY in this commit: the restore branch builds it.
import type { AccessorySpec } from '../../shared/manifest.js';
import type { BackupCompression, BackupSpec } from '../../shared/manifest-backups.js';
import type { DockerPort } from '../docker.js';
import type { Unseal } from '../engine/role-secrets.js';
import type { JWK } from '../../shared/api-types.js';

export interface VerifyDeps {
  docker: DockerPort;
  agentId: string;
  stateDir: string;
  network: string;
  sealingPrivateJwk: JWK;
  unseal?: Unseal;
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

/**
 * Restores the dump into a throwaway container of the accessory (same image,
 * env and files, no ports, no kept directories or volumes, removed after) and
 * runs the backup's `verify` command there. `output`: the commands' last
 * output lines, the accessory's secret values replaced.
 */
export async function verifyDump(_deps: VerifyDeps, _input: VerifyInput): Promise<{ passed: boolean; output: string }> {
  throw new Error('verifyDump: built in the restore branch');
}
