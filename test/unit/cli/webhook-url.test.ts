// deploy webhook url: which host the router URL names, and the two forms.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyOrigin, serverWebhooks } from '../../../cli/actions/webhook-url.js';

type Roles = Parameters<typeof proxyOrigin>[0]['roles'];
const role = (name: string, primary: boolean, proxy: { hosts: string[]; ssl: boolean } | null) => ({ name, primary, proxy }) as unknown as Roles[number];

describe('deploy webhook url', () => {
  it('names the primary role’s first proxy host, with the scheme its proxy serves, else another proxied role’s, else none', () => {
    assert.equal(proxyOrigin({ roles: [role('jobs', false, { hosts: ['jobs.example.com'], ssl: false }), role('web', true, { hosts: ['app.example.com', 'www.example.com'], ssl: true })] }), 'https://app.example.com');
    assert.equal(proxyOrigin({ roles: [role('web', true, null), role('api', false, { hosts: ['api.example.com'], ssl: false })] }), 'http://api.example.com');
    assert.equal(proxyOrigin({ roles: [role('web', true, { hosts: [], ssl: false })] }), null);
  });

  it('gives each source the router URL and the agent-port URL', () => {
    const answer = { urls: [{ source: 'generic' as const, path: '/.berth/webhooks/generic/TOKEN' }], policy: { tag: 'main', sources: ['generic' as const], poll: null } };
    assert.deepEqual(serverWebhooks(answer, 'https://app.example.com', '203.0.113.7:7443'), {
      policy: answer.policy,
      urls: [{ source: 'generic', url: 'https://app.example.com/.berth/webhooks/generic/TOKEN', agent_url: 'https://203.0.113.7:7443/.berth/webhooks/generic/TOKEN' }],
    });
    assert.equal(serverWebhooks(answer, null, 'h:1').urls[0]?.url, null);
  });
});
