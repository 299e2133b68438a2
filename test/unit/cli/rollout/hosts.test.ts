// The one host loop (fleet commands and rollout stages) and the one closing error.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostsFailure, onEachHost, settle, type HostOutcome } from '../../../../cli/rollout/hosts.js';
import { ConflictError, UpstreamError } from '../../../../shared/errors.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the host loop', () => {
  it('keeps every host outcome in input order; a throw is that host failure with its cause', async () => {
    const refused = new UpstreamError('h2: refused');
    const seen: string[] = [];
    const outcomes = await onEachHost(['h1', 'h2', 'h3'], (host) => settle(host, async () => {
      // h1 answers last: the outcomes still come back in input order.
      if (host === 'h1') for (let i = 0; i < 5; i++) await tick();
      if (host === 'h2') throw refused;
      return host.toUpperCase();
    }), { onOutcome: (o) => seen.push(o.host) });
    assert.deepEqual(outcomes, [
      { host: 'h1', ok: true, value: 'H1' },
      { host: 'h2', ok: false, error: 'h2: refused', cause: refused },
      { host: 'h3', ok: true, value: 'H3' },
    ]);
    assert.deepEqual(seen, ['h2', 'h3', 'h1'], 'each outcome is reported as it is known');
  });

  it('runs at most `limit` hosts at once', async () => {
    let inFlight = 0;
    let most = 0;
    const hosts = Array.from({ length: 10 }, (_, i) => `h${i}`);
    await onEachHost(hosts, (host) => settle(host, async () => {
      most = Math.max(most, ++inFlight);
      await tick();
      inFlight--;
    }), { limit: 3 });
    assert.equal(most, 3);
  });

  it('a task may report a failure with what it knew of the host', async () => {
    const [only] = await onEachHost(['h1'], async (host): Promise<HostOutcome<{ state: string }>> => ({ host, ok: false, error: 'deploy ended in REVERTED', cause: undefined, value: { state: 'REVERTED' } }));
    assert.ok(only && !only.ok);
    assert.deepEqual(only.value, { state: 'REVERTED' });
  });
});

describe('the closing error', () => {
  it('a fleet command: undefined when all succeeded; one failure keeps its code and hint', () => {
    assert.equal(hostsFailure([{ host: 'h', ok: true, value: 1 }], { doing: 'read the status' }), undefined);
    const locked = new ConflictError('demo is locked', 'release it', 'locked');
    const one = hostsFailure([{ host: 'h1', ok: false, error: locked.message, cause: locked }], { doing: 'x' });
    assert.equal(one?.code, 'locked');
    assert.equal(one?.hint, 'release it');
    assert.equal(one?.message, 'h1: demo is locked');
  });

  it('a rollout: a deploy that ended without an error of its own fails as deploy_failed naming the host', () => {
    const failure = hostsFailure([{ host: 'h1', ok: false, error: 'health check failed', cause: undefined }], { verb: 'deploy', skipped: [] });
    assert.equal(failure?.code, 'deploy_failed');
    assert.equal(failure?.message, 'deploy failed on h1: health check failed');
    assert.equal(failure?.hint, 'the previous release keeps serving on h1');
  });

  it('a rollout: several failures and the skipped hosts in one message, secrets redacted', () => {
    const outcomes: Array<HostOutcome<number>> = [
      { host: 'h1', ok: true, value: 1 },
      { host: 'h2', ok: false, error: 'h2: pull failed for s3cret', cause: new UpstreamError('h2: pull failed for s3cret') },
      { host: 'h3', ok: false, error: 'timeout', cause: new Error('timeout') },
      { host: 'h4', ok: false, error: 'skipped: an earlier batch failed (h2, h3)', cause: undefined },
    ];
    const failure = hostsFailure(outcomes, { verb: 'rollback', skipped: ['h4'], redact: (t) => t.replaceAll('s3cret', '[REDACTED]') });
    assert.equal(failure?.code, 'deploy_failed');
    assert.equal(failure?.message, 'rollback failed on 2 of 4 servers: h2: pull failed for [REDACTED]; h3: timeout; 1 server(s) skipped, left as they were: h4');
  });
});
