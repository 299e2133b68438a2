// `kamal secrets fetch --adapter bitwarden-sm`: `bws project list` proves the
// access token (BWS_ACCESS_TOKEN) works; then `bws secret get ID` per secret,
// or `bws secret list [PROJECT]` for `all` / `PROJECT/all`. Keys are the
// secrets' keys as stored in Bitwarden.

import { exited, fail, isRecord, parseJson, prefixed, unexpected, type Fetched, type SecretsAdapter, type Vendor } from './base.js';

function add(vendor: Vendor, results: Fetched, item: unknown): void {
  if (!isRecord(item) || typeof item.key !== 'string') unexpected(vendor, 'bws secret');
  results[item.key] = item.value ?? null;
}

export const bitwardenSecretsManager: SecretsAdapter = {
  title: 'Bitwarden Secrets Manager',
  program: 'bws',
  requiresAccount: false,

  async login(vendor) {
    const run = await vendor.run(['project', 'list']);
    if (!run.ok) fail(`Could not authenticate to Bitwarden Secrets Manager. Did you set a valid access token?${exited(vendor, run)}`, 'set BWS_ACCESS_TOKEN');
    return undefined;
  },

  async fetch(vendor, { secrets, from }) {
    if (secrets.length === 0) fail('You must specify what to retrieve from Bitwarden Secrets Manager');
    const ids = prefixed(secrets, from);
    const results: Fetched = {};
    const only = ids.length === 1 ? ids[0] : undefined;
    if (only === 'all' || only?.endsWith('/all')) {
      const args = only === 'all' ? ['secret', 'list'] : ['secret', 'list', only.split('/all')[0] ?? ''];
      const run = await vendor.run(args);
      if (!run.ok) fail(`Could not read secrets from Bitwarden Secrets Manager${exited(vendor, run)}`);
      const json = parseJson(vendor, run.stdout, 'bws secret list');
      if (!Array.isArray(json)) unexpected(vendor, 'bws secret list');
      for (const item of json) add(vendor, results, item);
      return results;
    }
    for (const id of ids) {
      const run = await vendor.run(['secret', 'get', id]);
      if (!run.ok) fail(`Could not read ${id} from Bitwarden Secrets Manager${exited(vendor, run)}`);
      add(vendor, results, parseJson(vendor, run.stdout, `bws secret get ${id}`));
    }
    return results;
  },
};
