// `kamal secrets fetch --adapter 1password`: `op item get` per item, fields
// chosen with `--fields label=section.field,…`; keys are the fields'
// `op://` references without the scheme and without a trailing `/password`.

import { exited, fail, isRecord, parseJson, prefixed, rubySplit, unexpected, type Fetched, type SecretsAdapter, type Vendor } from './base.js';

function fieldsMap(vendor: Vendor, fields: unknown[]): Fetched {
  const out: Fetched = {};
  for (const field of fields) {
    if (!isRecord(field) || typeof field.reference !== 'string') unexpected(vendor, 'op item get');
    let key = field.reference.startsWith('op://') ? field.reference.slice('op://'.length) : field.reference;
    if (key.endsWith('/password')) key = key.slice(0, -'/password'.length);
    out[key] = field.value ?? null;
  }
  return out;
}

async function itemGet(vendor: Vendor, vault: string, item: string, fields: string[] | undefined, account: string | undefined, session: string | undefined): Promise<unknown> {
  const args = ['item', 'get', item, '--vault', vault, '--format', 'json'];
  if (account !== undefined) args.push('--account', account);
  if (session) args.push('--session', session);
  if (fields && fields.length > 0) args.push('--fields', fields.map((f) => `label=${f}`).join(','));
  const run = await vendor.run(args);
  if (!run.ok) fail(`Could not read ${fields && fields.length > 0 ? `${fields.join(', ')} ` : ''}from ${item} in the ${vault} 1Password vault${exited(vendor, run)}`);
  return parseJson(vendor, run.stdout, `op item get ${item}`);
}

const HINT = 'Berth runs op without a terminal, so op cannot ask for a password: sign in first (eval $(op signin --account ACCOUNT)), turn on the 1Password app integration, or set OP_SERVICE_ACCOUNT_TOKEN';

export const onePassword: SecretsAdapter = {
  title: '1Password',
  program: 'op',
  requiresAccount: true,

  async login(vendor, account) {
    if ((await vendor.run(['account', 'get', '--account', account ?? ''])).ok) return undefined;
    const signin = await vendor.run(['signin', '--account', account ?? '', '--force', '--raw']);
    if (!signin.ok) fail(`Failed to login to 1Password${exited(vendor, signin)}`, HINT);
    return signin.stdout.trim() || undefined;
  },

  async fetch(vendor, { secrets, account, from, session }) {
    const results: Fetched = {};
    if (secrets.length === 0) {
      // Every field of the one item named by --from.
      const [vault, item] = rubySplit((from ?? '').replace(/^op:\/\//, ''));
      if (!vault || !item) fail('--from must name a vault and an item (op://vault/item) when no secrets are listed');
      const json = await itemGet(vendor, vault, item, undefined, account, session);
      if (!isRecord(json) || !Array.isArray(json.fields)) unexpected(vendor, `op item get ${item}`);
      return fieldsMap(vendor, json.fields);
    }
    // vault → item → field labels, in the order first named.
    const vaults = new Map<string, Map<string, string[]>>();
    for (const secret of prefixed(secrets, from)) {
      const [vault, item, ...fields] = rubySplit(secret.replace(/^op:\/\//, ''));
      if (!vault || !item) fail(`${secret} does not name a vault and an item (vault/item[/section]/field)`);
      if (fields.length === 0) fields.push('password');
      const items = vaults.get(vault) ?? new Map<string, string[]>();
      vaults.set(vault, items);
      items.set(item, [...(items.get(item) ?? []), fields.join('.')]);
    }
    for (const [vault, items] of vaults) {
      for (const [item, fields] of items) {
        const json = await itemGet(vendor, vault, item, fields, account, session);
        // One field comes back as an object, several as an array.
        Object.assign(results, fieldsMap(vendor, Array.isArray(json) ? json : [json]));
      }
    }
    return results;
  },
};
