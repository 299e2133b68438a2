// Kamal's `--adapter test`, which needs no vault: each secret's value is its
// (prefixed) name reversed, with LPAREN/RPAREN standing for parentheses.

import { prefixed, type Fetched, type SecretsAdapter } from './base.js';

export const testAdapter: SecretsAdapter = {
  title: 'Test',
  program: '',
  requiresAccount: true,
  login: async () => undefined,
  async fetch(_vendor, { secrets, from }) {
    const results: Fetched = {};
    for (const name of prefixed(secrets, from)) {
      results[name] = [...name.replaceAll('LPAREN', '(').replaceAll('RPAREN', ')')].reverse().join('');
    }
    return results;
  },
};
