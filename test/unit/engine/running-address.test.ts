// Reading a new container's address for its health check (agent/engine/health.ts):
// a container that is not running when the address is read is reported as
// exited, never as "has no address".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runningAddress, type RunState } from '../../../agent/engine/health.js';
import { UnhealthyError } from '../../../shared/errors.js';

const c = { name: 'svc-web-r1-abcdef', network: 'berth' };
const exited = new UnhealthyError('container svc-web-r1-abcdef exited with code 3 before it became healthy; last log lines:\nboom');

/** Each call of `read` answers the next state; `alive` is what each checkAlive look sees. */
function script(states: Array<RunState | undefined>, alive: boolean[]) {
  let reads = 0;
  let looks = 0;
  return {
    read: async () => states[Math.min(reads++, states.length - 1)],
    checkAlive: async () => {
      if (!(alive[Math.min(looks++, alive.length - 1)] ?? false)) throw exited;
    },
    counts: () => ({ reads, looks }),
  };
}

test('a running container: its address as read now', async () => {
  const s = script([{ running: true, ip: '10.0.0.7' }], []);
  assert.equal(await runningAddress(s.read, s.checkAlive, c), '10.0.0.7');
});

test('a container that is not running when its address is read is reported as exited, with its code and logs', async () => {
  const s = script([{ running: false, ip: null }], [false]);
  await assert.rejects(runningAddress(s.read, s.checkAlive, c), exited);
});

test('restarted by Docker between two looks: the address is read again, and is the new one', async () => {
  const s = script([{ running: false, ip: null }, { running: true, ip: '10.0.0.9' }], [true]);
  assert.equal(await runningAddress(s.read, s.checkAlive, c), '10.0.0.9');
  assert.deepEqual(s.counts(), { reads: 2, looks: 1 });
});

test('a container Docker keeps restarting between every two looks fails after a bounded number of looks', async () => {
  const s = script([{ running: false, ip: null }], [true]);
  await assert.rejects(runningAddress(s.read, s.checkAlive, c), /^UnhealthyError: container svc-web-r1-abcdef kept exiting and being restarted by Docker before it became healthy$/);
  assert.ok(s.counts().reads <= 10);
});

test('a running container without an address on the network says so', async () => {
  const s = script([{ running: true, ip: null }], []);
  await assert.rejects(runningAddress(s.read, s.checkAlive, c), /container svc-web-r1-abcdef has no address on network berth/);
});
