// `kamal secrets fetch --adapter doppler`: one `doppler secrets get … --json`
// for all names (their last path segment); `--from project/config` (or the
// first secret's path) gives `-p`/`-c`, unless DOPPLER_TOKEN is a service
// token (dp.st…), which already names both. Keys are the bare names.

import { exited, fail, isRecord, parseJson, prefixed, rubySplit, unexpected, type Fetched, type SecretsAdapter } from './base.js';

const HINT = 'Berth runs doppler without a terminal: run `doppler login` before deploy, or set DOPPLER_TOKEN';

export const doppler: SecretsAdapter = {
  title: 'Doppler',
  program: 'doppler',
  requiresAccount: false,

  async login(vendor) {
    if ((await vendor.run(['me', '--json'])).ok) return undefined;
    const login = await vendor.run(['login', '-y']);
    if (!login.ok) fail(`Failed to login to Doppler${exited(vendor, login)}`, HINT);
    return undefined;
  },

  async fetch(vendor, { secrets, from }) {
    const paths = prefixed(secrets, from);
    const flags: string[] = [];
    if (!(vendor.env.DOPPLER_TOKEN ?? '').startsWith('dp.st')) {
      const [project, config] = rubySplit(paths[0] ?? '');
      if (!project || !config) fail("Missing project or config from '--from=project/config' option");
      flags.push('-p', project, '-c', config);
    }
    const names = paths.map((p) => rubySplit(p).pop() ?? '');
    const run = await vendor.run(['secrets', 'get', ...names, '--json', ...flags]);
    if (!run.ok) fail(`Could not read ${paths.join(', ')} from Doppler${exited(vendor, run)}`);
    const json = parseJson(vendor, run.stdout, 'doppler secrets get');
    if (!isRecord(json)) unexpected(vendor, 'doppler secrets get');
    const results: Fetched = {};
    for (const [key, value] of Object.entries(json)) results[key] = isRecord(value) ? (value.computed ?? null) : null;
    return results;
  },
};
