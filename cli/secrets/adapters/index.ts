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
  Test: testAdapter,
};

/** Kamal adapters Berth does not carry yet. */
const NOT_BUILT_IN: Record<string, string> = { Passbolt: 'passbolt' };

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
  const cli = Object.hasOwn(NOT_BUILT_IN, className) ? NOT_BUILT_IN[className] : undefined;
  if (cli) return { ok: false, message: `the ${shown} secrets adapter is not built into Berth`, hint: `call ${cli} directly in $(…), or use one of: 1password, bitwarden, bitwarden-sm, aws_secrets_manager, gcp, doppler, lastpass, enpass` };
  return { ok: false, message: `Unknown secrets adapter: ${shown}`, hint: 'Berth knows 1password, bitwarden, bitwarden-sm, aws_secrets_manager, gcp, doppler, lastpass and enpass, spelled as in Kamal' };
}
