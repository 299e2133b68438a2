// `kamal secrets fetch --adapter enpass --from VAULT_DIR Item Item2/LABEL`:
// one `enpass-cli -json -vault VAULT_DIR show` for the item titles; an item
// alone gives each of its passwords as `title/label` (or `title` for an
// unlabelled one), `title/label` only that one. Enpass is offline: no sign-in.

import { fail, isRecord, parseJson, unexpected, type Fetched, type SecretsAdapter } from './base.js';

export const enpass: SecretsAdapter = {
  title: 'Enpass',
  program: 'enpass-cli',
  versionArgs: ['version'],
  requiresAccount: false,

  login: async () => undefined,

  async fetch(vendor, { secrets, from }) {
    if (from === undefined) fail('--from must be the path of the Enpass vault');
    // `Item/LABEL` asks for one password of Item, `Item` for all of them.
    const titles = [...new Set(secrets.map((s) => (s.lastIndexOf('/') > 0 ? s.slice(0, s.lastIndexOf('/')) : s.slice(s.lastIndexOf('/') + 1))))];
    // Kamal reads the output whatever the exit status.
    const run = await vendor.run(['-json', '-vault', from, 'show', ...titles]);
    const json = parseJson(vendor, run.stdout.trim(), 'enpass-cli show');
    if (!Array.isArray(json)) unexpected(vendor, 'enpass-cli show');
    const results: Fetched = {};
    for (const item of json) {
      if (!isRecord(item)) unexpected(vendor, 'enpass-cli show');
      const { title, label, password } = item;
      if (typeof title !== 'string' || typeof password !== 'string' || password.trim() === '') continue;
      const key = [title, typeof label === 'string' ? label : ''].filter((p) => p !== '').join('/');
      if (!secrets.includes(title) && !secrets.includes(key)) continue;
      if (Object.hasOwn(results, key)) fail(`${key} is present more than once`);
      results[key] = password;
    }
    return results;
  },
};
