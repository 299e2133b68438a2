// What a graceful shutdown waits for: every deploy, removal and maintenance
// switch the API started, until it settles, whatever its outcome.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiDeps } from '../../../agent/api/context.js';
import { trackedEngine } from '../../../agent/running-work.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('trackedEngine', () => {
  it('a removal is waited for until it ends, and its caller still gets its answer', async () => {
    const removal = deferred<{ containers: string[]; routes: number }>();
    const engine = {
      run: async () => undefined,
      setMaintenance: async () => null,
      removeService: () => removal.promise,
    } as unknown as ApiDeps['engine'];
    const running = new Set<Promise<void>>();
    const answer = trackedEngine(engine, running).removeService({ service: 'demo', destination: '', keyId: 'k' });
    assert.equal(running.size, 1, 'shutdown would wait for the removal');
    removal.resolve({ containers: ['demo-web-v1'], routes: 1 });
    assert.deepEqual(await answer, { containers: ['demo-web-v1'], routes: 1 });
    await Promise.allSettled([...running]);
    await new Promise((r) => setImmediate(r));
    assert.equal(running.size, 0);
  });

  it('a failed removal, a deploy and a maintenance switch are tracked the same way; errors reach the caller', async () => {
    const removal = deferred<never>();
    const deploy = deferred<void>();
    const maintenance = deferred<null>();
    const engine = {
      run: () => deploy.promise,
      setMaintenance: () => maintenance.promise,
      removeService: () => removal.promise,
    } as unknown as ApiDeps['engine'];
    const running = new Set<Promise<void>>();
    const tracked = trackedEngine(engine, running);
    const answers = [
      tracked.removeService({ service: 'demo', destination: '', keyId: 'k' }),
      tracked.run(1),
      tracked.setMaintenance({ service: 'demo', destination: '', keyId: 'k', message: null }),
    ];
    assert.equal(running.size, 3);
    removal.reject(new Error('docker went away'));
    deploy.resolve();
    maintenance.resolve(null);
    await assert.rejects(answers[0]!, /docker went away/);
    await Promise.all(answers.slice(1));
    await Promise.allSettled([...running]);
    await new Promise((r) => setImmediate(r));
    assert.equal(running.size, 0);
  });
});
