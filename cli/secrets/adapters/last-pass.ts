// `kamal secrets fetch --adapter lastpass`: `lpass status` must say
// "Logged in as ACCOUNT.", else `lpass login ACCOUNT`; then one
// `lpass show … --json`, keyed by each entry's fullname (folder/name).

import { exited, fail, isRecord, parseJson, prefixed, unexpected, type Fetched, type SecretsAdapter } from './base.js';

const HINT = 'Berth runs lpass without a terminal: run `lpass login ACCOUNT` before deploy';

export const lastPass: SecretsAdapter = {
  title: 'LastPass',
  program: 'lpass',
  requiresAccount: true,

  async login(vendor, account) {
    const status = await vendor.run(['status', '--color', 'never']);
    if (status.stdout.trim() === `Logged in as ${account ?? ''}.`) return undefined;
    const login = await vendor.run(['login', account ?? '']);
    if (!login.ok) fail(`Failed to login to LastPass${exited(vendor, login)}`, HINT);
    return undefined;
  },

  async fetch(vendor, { secrets, from }) {
    const names = prefixed(secrets, from);
    const run = await vendor.run(['show', ...names, '--json']);
    if (!run.ok) fail(`Could not read ${names.join(', ')} from LastPass${exited(vendor, run)}`);
    const json = parseJson(vendor, run.stdout, 'lpass show');
    if (!Array.isArray(json)) unexpected(vendor, 'lpass show');
    const results: Fetched = {};
    for (const item of json) {
      if (!isRecord(item) || typeof item.fullname !== 'string') unexpected(vendor, 'lpass show');
      results[item.fullname] = item.password ?? null;
    }
    const missing = names.filter((n) => !(n in results));
    if (missing.length > 0) fail(`Could not find ${missing.join(', ')} in LastPass`);
    return results;
  },
};
