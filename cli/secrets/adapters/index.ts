// Kamal's adapter lookup: a few aliases (1password, lastpass, gcp,
// bitwarden-sm), otherwise the name camelized as Rails does (one_password and
// OnePassword both name OnePassword), so every spelling Kamal accepts works.

import { awsSecretsManager } from './aws-secrets-manager.js';
import type { SecretsAdapter } from './base.js';
import { bitwarden } from './bitwarden.js';
import { bitwardenSecretsManager } from './bitwarden-secrets-manager.js';
import { doppler } from './doppler.js';
import { enpass } from './enpass.js';
import { gcpSecretManager } from './gcp-secret-manager.js';
import { lastPass } from './last-pass.js';
import { onePassword } from './one-password.js';
import { passbolt } from './passbolt.js';
import { testAdapter } from './test.js';

const ADAPTERS: Record<string, SecretsAdapter> = {
  OnePassword: onePassword,
  Bitwarden: bitwarden,
  BitwardenSecretsManager: bitwardenSecretsManager,
  AwsSecretsManager: awsSecretsManager,
  GcpSecretManager: gcpSecretManager,
  Doppler: doppler,
  Enpass: enpass,
  LastPass: lastPass,
  Passbolt: passbolt,
  Test: testAdapter,
};

const ALIASES: Record<string, string> = { '1password': 'one_password', lastpass: 'last_pass', gcp: 'gcp_secret_manager', 'bitwarden-sm': 'bitwarden_secrets_manager' };

const capitalize = (word: string) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase();

/** ActiveSupport's `camelize` (without acronyms, which Kamal's names do not use). */
export function camelize(name: string): string {
  return name.replace(/^[a-z\d]*/, capitalize).replace(/(?:_|(\/))([a-z\d]*)/gi, (_m, slash: string | undefined, word: string) => `${slash ? '::' : ''}${capitalize(word)}`);
}

export type AdapterLookup = { ok: true; adapter: SecretsAdapter } | { ok: false; message: string; hint: string };

export function lookupAdapter(name: string): AdapterLookup {
  const alias = Object.hasOwn(ALIASES, name.toLowerCase()) ? ALIASES[name.toLowerCase()] : undefined;
  const className = camelize(alias ?? name);
  const adapter = Object.hasOwn(ADAPTERS, className) ? ADAPTERS[className] : undefined;
  if (adapter) return { ok: true, adapter };
  const shown = /^[\w-]{1,64}$/.test(name) ? name : JSON.stringify(name.slice(0, 64));
  return { ok: false, message: `Unknown secrets adapter: ${shown}`, hint: 'Berth knows the adapters Kamal 2.12 has: 1password, bitwarden, bitwarden-sm, aws_secrets_manager, gcp, doppler, lastpass, enpass and passbolt, spelled as in Kamal' };
}
