import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchSize, planRollout, rolloutOrder } from '../../../../cli/rollout/plan.js';
import { hostsFailure, settle } from '../../../../cli/rollout/hosts.js';
import { runRollout } from '../../../../cli/rollout/rollout.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);
const shape = (plan: ReturnType<typeof planRollout>) => plan.stages.map((s) => `${s.kind}:${s.hosts.join(',')}@${s.waitBefore}`);

describe('rollout plan', () => {
  it('puts the primary host first and alone, then every other host in one batch without boot.limit', () => {
    const plan = planRollout(hosts(4), 'h3', {});
    assert.equal(plan.primary, 'h3');
    assert.deepEqual(shape(plan), ['primary:h3@0', 'batch:h1,h2,h4@0']);
    assert.deepEqual(rolloutOrder(plan), ['h3', 'h1', 'h2', 'h4']);
  });

  it('splits the rest into boot.limit batches with boot.wait before each', () => {
    assert.deepEqual(shape(planRollout(hosts(3), 'h1', { limit: 1, wait: 5 })), ['primary:h1@0', 'batch:h2@5', 'batch:h3@5']);
    assert.deepEqual(shape(planRollout(hosts(6), 'h1', { limit: 2 })), ['primary:h1@0', 'batch:h2,h3@0', 'batch:h4,h5@0', 'batch:h6@0']);
  });

  it('reads a percentage of all hosts, rounded down like Kamal, and at least 1', () => {
    assert.equal(batchSize('25%', 8), 2);
    assert.equal(batchSize('25%', 3), 1, '0.75 hosts is still one');
    assert.equal(batchSize('50%', 5), 2);
    assert.equal(batchSize('100%', 5), 5);
    assert.equal(batchSize(3, 10), 3);
    assert.deepEqual(shape(planRollout(hosts(8), 'h1', { limit: '25%', wait: 2 })), ['primary:h1@0', 'batch:h2,h3@2', 'batch:h4,h5@2', 'batch:h6,h7@2', 'batch:h8@2']);
  });

  it('falls back to the first host when the primary is not among the hosts; lists each host once', () => {
    assert.deepEqual(shape(planRollout(['a', 'b', 'a'], 'zz', {})), ['primary:a@0', 'batch:b@0']);
    assert.deepEqual(shape(planRollout(['a'], 'a', { limit: 1 })), ['primary:a@0']);
    assert.deepEqual(planRollout([], 'a', {}), { primary: undefined, stages: [] });
  });
});


function executor(failing: Set<string>) {
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const hooks = {
    deliver: (host: string) => settle(host, async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      log.push(`start ${host}`);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      log.push(`end ${host}`);
      if (failing.has(host)) throw new Error('refused');
      return host;
    }),
    sleep: async (ms: number) => void log.push(`sleep ${ms}`),
  };
  return { hooks, log, maxInFlight: () => maxInFlight };
}

describe('rollout executor', () => {
  it('finishes the primary before any other host starts, then runs batches in order with the waits', async () => {
    const x = executor(new Set());
    const { outcomes: results } = await runRollout(planRollout(hosts(3), 'h2', { limit: 1, wait: 3 }), x.hooks);
    assert.deepEqual(results.map((r) => r.host), ['h2', 'h1', 'h3']);
    assert.deepEqual(x.log, ['start h2', 'end h2', 'sleep 3000', 'start h1', 'end h1', 'sleep 3000', 'start h3', 'end h3']);
  });

  it('a failed primary stops the rollout: no other host is contacted, all are skipped', async () => {
    const x = executor(new Set(['h1']));
    const { outcomes, skipped } = await runRollout(planRollout(hosts(4), 'h1', {}), x.hooks);
    assert.deepEqual(x.log, ['start h1', 'end h1']);
    assert.deepEqual(outcomes.map((o) => [o.host, o.ok, o.ok ? o.value : o.error]), [
      ['h1', false, 'refused'],
      ['h2', false, 'skipped: the primary host h1 failed'],
      ['h3', false, 'skipped: the primary host h1 failed'],
      ['h4', false, 'skipped: the primary host h1 failed'],
    ]);
    assert.deepEqual(skipped, ['h2', 'h3', 'h4']);
    const failure = hostsFailure(outcomes, { verb: 'deploy', skipped });
    assert.equal(failure?.code, 'deploy_failed');
    assert.equal(failure?.message, 'deploy failed on h1: refused; 3 server(s) skipped, left as they were: h2, h3, h4');
  });

  it('a batch with a failure finishes, then the later batches are skipped untouched', async () => {
    const x = executor(new Set(['h3']));
    const { outcomes: results } = await runRollout(planRollout(hosts(6), 'h1', { limit: 2, wait: 1 }), x.hooks);
    assert.ok(!x.log.includes('start h4') && !x.log.includes('start h5') && !x.log.includes('start h6'), x.log.join('\n'));
    assert.ok(x.log.includes('end h2'), 'the failing batch runs to its end');
    assert.deepEqual(results.map((r) => `${r.host}:${r.ok ? 'ok' : r.error}`), [
      'h1:ok', 'h2:ok', 'h3:refused', 'h4:skipped: an earlier batch failed (h3)', 'h5:skipped: an earlier batch failed (h3)', 'h6:skipped: an earlier batch failed (h3)',
    ]);
  });

  it('runs at most 8 hosts of a batch at once', async () => {
    const x = executor(new Set());
    const { outcomes } = await runRollout(planRollout(hosts(21), 'h1', {}), x.hooks);
    assert.equal(outcomes.length, 21);
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(x.maxInFlight(), 8);
  });
});
