// `kamal secrets fetch --adapter aws_secrets_manager`: one
// `aws secretsmanager batch-get-secret-value` for all names. A SecretString
// holding a JSON object gives one key per member (`name/member`); anything
// else is the value of `name`. --account is the AWS profile.

import { exited, fail, isRecord, parseJson, prefixed, unexpected, type Fetched, type SecretsAdapter } from './base.js';

/** Ruby's JSON.dump of a parsed value; a whole-number SecretString keeps its digits exactly. */
function stringify(value: unknown, source?: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && source !== undefined && /^\s*-?\d+\s*$/.test(source)) return BigInt(source.trim()).toString();
  return JSON.stringify(value);
}

/** Control characters and length trimmed: AWS's error text is shown, and is not ours. */
function clean(text: unknown): string {
  return String(text ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200);
}

export const awsSecretsManager: SecretsAdapter = {
  title: 'AWS',
  program: 'aws',
  requiresAccount: false,

  login: async () => undefined,

  async fetch(vendor, { secrets, account, from }) {
    const names = prefixed(secrets, from);
    const args = ['secretsmanager', 'batch-get-secret-value', '--secret-id-list', ...names];
    if (account !== undefined) args.push('--profile', account);
    args.push('--output', 'json');
    const run = await vendor.run(args);
    if (!run.ok) fail(`Could not read ${names.join(', ')} from AWS Secrets Manager${exited(vendor, run)}`, 'check the AWS credentials (aws sts get-caller-identity) and the --account profile');
    const json = parseJson(vendor, run.stdout, 'aws secretsmanager batch-get-secret-value');
    if (!isRecord(json)) unexpected(vendor, 'aws secretsmanager batch-get-secret-value');
    if (Array.isArray(json.Errors) && json.Errors.length > 0) {
      fail(json.Errors.map((e) => (isRecord(e) ? `${clean(e.SecretId)}: ${clean(e.Message)}` : '')).join(' '));
    }
    if (!Array.isArray(json.SecretValues)) unexpected(vendor, 'aws secretsmanager batch-get-secret-value');
    const results: Fetched = {};
    for (const secret of json.SecretValues) {
      if (!isRecord(secret) || typeof secret.Name !== 'string') unexpected(vendor, 'aws secretsmanager batch-get-secret-value');
      const name = secret.Name;
      if (typeof secret.SecretString !== 'string') fail(`${name} has no SecretString (binary secrets are not supported, as in Kamal)`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(secret.SecretString);
      } catch {
        results[name] = secret.SecretString;
        continue;
      }
      if (isRecord(parsed)) {
        for (const [key, value] of Object.entries(parsed)) results[`${name}/${key}`] = stringify(value);
      } else {
        results[name] = stringify(parsed, secret.SecretString);
      }
    }
    return results;
  },
};
