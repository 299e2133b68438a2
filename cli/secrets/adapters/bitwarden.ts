// `kamal secrets fetch --adapter bitwarden`: `bw status` decides whether to
// log in and unlock (the unlock's session key goes to later calls as
// BW_SESSION), then `bw sync` and `bw get item` per item. An item alone gives
// its login password (or all its custom fields); `item/field` gives one field.

import { exited, fail, isRecord, parseJson, prefixed, rubySplit, unexpected, type Fetched, type SecretsAdapter, type Vendor } from './base.js';

const HINT = 'Berth runs bw without a terminal, so bw cannot ask for a password: run `bw login` and `export BW_SESSION=$(bw unlock --raw)` before deploy';

async function bw(vendor: Vendor, args: string[], session: string | undefined) {
  return vendor.run(args, session ? { BW_SESSION: session } : undefined);
}

async function status(vendor: Vendor, session: string | undefined): Promise<unknown> {
  const run = await bw(vendor, ['status'], session);
  if (!run.ok) fail(`Failed to login to and unlock Bitwarden${exited(vendor, run)}`, HINT);
  const json = parseJson(vendor, run.stdout.trim(), 'bw status');
  return isRecord(json) ? json.status : undefined;
}

function fromFields(vendor: Vendor, fields: Array<string | undefined>, item: string, json: Record<string, unknown>): Fetched {
  const out: Fetched = {};
  const all = Array.isArray(json.fields) ? json.fields : [];
  for (const field of fields) {
    const found = all.find((f): f is Record<string, unknown> => isRecord(f) && f.name === field);
    if (!found) fail(`Could not find field ${field ?? ''} in item ${item} in Bitwarden`);
    out[`${item}/${field ?? ''}`] = found.value ?? null;
  }
  return out;
}

export const bitwarden: SecretsAdapter = {
  title: 'Bitwarden',
  program: 'bw',
  requiresAccount: true,

  async login(vendor, account) {
    let session: string | undefined;
    let state = await status(vendor, undefined);
    if (state === 'unauthenticated') {
      // Kamal does not check these exits; the status afterwards decides.
      await bw(vendor, ['login', account ?? ''], undefined);
      state = await status(vendor, undefined);
    }
    if (state === 'locked') {
      session = (await bw(vendor, ['unlock', '--raw'], undefined)).stdout.trim() || undefined;
      state = await status(vendor, session);
    }
    if (state !== 'unlocked') fail('Failed to login to and unlock Bitwarden', HINT);
    const sync = await bw(vendor, ['sync'], session);
    if (!sync.ok) fail(`Failed to sync Bitwarden${exited(vendor, sync)}`);
    return session;
  },

  async fetch(vendor, { secrets, from, session }) {
    const results: Fetched = {};
    const items = new Map<string, Array<string | undefined>>();
    for (const secret of prefixed(secrets, from)) {
      // Ruby's `item, field = secret.split("/")`: a third part is ignored.
      const [item = '', field] = rubySplit(secret);
      items.set(item, [...(items.get(item) ?? []), field]);
    }
    for (const [item, fields] of items) {
      const run = await bw(vendor, ['get', 'item', item], session);
      if (!run.ok) fail(`Could not read ${item} from Bitwarden${exited(vendor, run)}`);
      const json = parseJson(vendor, run.stdout.trim(), `bw get item ${item}`);
      if (!isRecord(json)) unexpected(vendor, `bw get item ${item}`);
      const login = isRecord(json.login) ? json.login : {};
      if (fields.some((f) => f !== undefined)) {
        Object.assign(results, fromFields(vendor, fields, item, json));
      } else if (login.password !== undefined && login.password !== null && login.password !== false) {
        results[item] = login.password;
      } else if (Array.isArray(json.fields) && json.fields.length > 0) {
        const names = json.fields.map((f) => (isRecord(f) && typeof f.name === 'string' ? f.name : undefined));
        Object.assign(results, fromFields(vendor, names, item, json));
      } else {
        fail(`Item ${item} is not a login type item and no fields were specified`);
      }
    }
    return results;
  },
};
