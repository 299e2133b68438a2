// Everything a release needs from outside deploy.yml, gathered once before any
// server is contacted: secret values (from .kamal/secrets*) and the registry
// login. A missing secret fails here, naming it and the files it was expected in.

import { ConfigError } from '../shared/errors.js';
import type { Credential, DeployConfig } from './config/types.js';
import type { Plan } from './config/plan.js';
import type { RegistryCredentials } from '../shared/registry/auth.js';
import { loadSecrets, type SecretStore } from './secrets/load.js';
import { runShellCommand } from './secrets/run-command.js';

export interface RegistryLogin extends RegistryCredentials {
  /** host[:port] the login is for: the image's registry. */
  server: string;
}

export interface ReleaseInputs {
  /** Variable values by secret name; empty when the config names no secret. */
  secret(name: string): string;
  registry: RegistryLogin | undefined;
  /** Replaces every secret value in text meant for output. */
  redact(text: string): string;
}

export async function gatherReleaseInputs(
  config: DeployConfig,
  plan: Plan,
  appDir: string,
  imageRegistry: string,
  processEnv: Readonly<Record<string, string | undefined>>,
): Promise<ReleaseInputs> {
  let store: SecretStore | undefined;
  if (plan.secretNames.length > 0) {
    store = await loadSecrets(appDir, config.destination, processEnv, runShellCommand, {
      ...(config.secrets_path ? { secretsPath: config.secrets_path } : {}),
    });
    // Every secret is read now, so a missing one stops the push before any server is touched.
    for (const name of plan.secretNames) store.get(name);
  }
  const secret = (name: string): string => {
    if (!store) throw new ConfigError(`secret ${name} is needed but no secret is configured`);
    return store.get(name);
  };
  const credential = (c: Credential | undefined): string | undefined => (c === undefined ? undefined : 'literal' in c ? c.literal : secret(c.secret));

  let registry: RegistryLogin | undefined;
  const username = credential(config.registry?.username);
  const password = credential(config.registry?.password);
  if (username !== undefined && password !== undefined) {
    registry = { server: config.registry?.server ?? imageRegistry, username, password };
  } else if (username !== undefined || password !== undefined) {
    throw new ConfigError('registry: needs both username and password (or neither, for a public registry)');
  }
  return { secret, registry, redact: (text) => (store ? store.redact(text) : text) };
}
