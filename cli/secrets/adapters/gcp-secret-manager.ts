// `kamal secrets fetch --adapter gcp`: `gcloud secrets versions access` per
// secret, named `[project/]name[/version]` ("default" project = gcloud's own;
// version "latest" when absent); keys are `project/name`. --account is
// `user[|service-account[,delegate…]]`, "default" for gcloud's active user.

import { exited, fail, isRecord, parseJson, prefixed, rubySplit, unexpected, type Fetched, type SecretsAdapter, type Vendor } from './base.js';

const HINT = 'Berth runs gcloud without a terminal: run `gcloud auth login` (or activate a service account) before deploy';

async function loggedIn(vendor: Vendor): Promise<boolean> {
  const run = await vendor.run(['auth', 'list', '--format=json']);
  const json = run.ok ? parseJson(vendor, run.stdout, 'gcloud auth list') : [];
  return Array.isArray(json) ? json.length > 0 : isRecord(json) && Object.keys(json).length > 0;
}

function decode(vendor: Vendor, data: unknown, item: string): string {
  if (typeof data !== 'string') unexpected(vendor, `gcloud secrets versions access (${item})`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(data, 'base64'));
  } catch {
    return fail(`${item} from Google Secret Manager is not UTF-8 text`, 'environment variables hold text; store binary data base64-encoded');
  }
}

export const gcpSecretManager: SecretsAdapter = {
  title: 'gcloud',
  program: 'gcloud',
  requiresAccount: true,

  async login(vendor) {
    if (await loggedIn(vendor)) return undefined;
    await vendor.run(['auth', 'login']);
    if (!(await loggedIn(vendor))) fail('could not login to gcloud', HINT);
    return undefined;
  },

  async fetch(vendor, { secrets, account, from }) {
    const bar = (account ?? 'default').indexOf('|');
    const user = bar === -1 ? (account ?? 'default') : (account ?? '').slice(0, bar);
    const serviceAccount = bar === -1 ? undefined : (account ?? '').slice(bar + 1);
    const wanted = new Map<string, [string, string, string]>();
    for (const secret of prefixed(secrets, from)) {
      const parts = rubySplit(secret);
      if (parts.length === 1) parts.unshift('default');
      const [project = 'default', name = '', version = 'latest'] = parts;
      wanted.set(secret, [project, name, version]);
    }
    const results: Fetched = {};
    for (const [project, name, version] of wanted.values()) {
      const item = `${project}/${name}`;
      const args = ['secrets', 'versions', 'access', version, `--secret=${name}`];
      if (project !== 'default') args.push(`--project=${project}`);
      if (user !== 'default') args.push(`--account=${user}`);
      if (serviceAccount !== undefined) args.push(`--impersonate-service-account=${serviceAccount}`);
      args.push('--format=json');
      const run = await vendor.run(args);
      if (!run.ok) fail(`Could not read ${item} from Google Secret Manager${exited(vendor, run)}`);
      const json = parseJson(vendor, run.stdout.trim(), `gcloud secrets versions access (${item})`);
      if (!isRecord(json) || !isRecord(json.payload)) unexpected(vendor, `gcloud secrets versions access (${item})`);
      results[item] = decode(vendor, json.payload.data, item);
    }
    return results;
  },
};
