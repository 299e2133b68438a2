// Role options in Kamal's form become the Docker API fields docker run would send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBytes, parseDuration, translateOptions } from '../../../agent/core/docker-options.js';

test('sizes, cpus, ulimits, hosts, capabilities and flags map to HostConfig', () => {
  const out = translateOptions('web', {
    memory: '2GB',
    'memory-reservation': '512m',
    'memory-swap': -1,
    cpus: 1.5,
    'shm-size': '256m',
    ulimit: ['nofile=1024:2048', 'nproc=512'],
    'add-host': ['db.internal:10.0.0.5', 'gw:host-gateway'],
    'cap-add': 'sys_nice',
    'cap-drop': 'ALL',
    init: true,
    'read-only': 'true',
    'pids-limit': 200,
    sysctl: 'net.core.somaxconn=1024',
    tmpfs: '/tmp:size=64m',
    dns: '1.1.1.1',
  });
  assert.deepEqual(out.host, {
    Memory: 2 * 1024 ** 3,
    MemoryReservation: 512 * 1024 ** 2,
    MemorySwap: -1,
    NanoCpus: 1_500_000_000,
    ShmSize: 256 * 1024 ** 2,
    Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'nproc', Soft: 512, Hard: 512 }],
    ExtraHosts: ['db.internal:10.0.0.5', 'gw:host-gateway'],
    CapAdd: ['SYS_NICE'],
    CapDrop: ['ALL'],
    Init: true,
    ReadonlyRootfs: true,
    PidsLimit: 200,
    Sysctls: { 'net.core.somaxconn': '1024' },
    Tmpfs: { '/tmp': 'size=64m' },
    Dns: ['1.1.1.1'],
  });
  assert.deepEqual(out.config, {});
});

test('user, workdir, entrypoint, stop signal, expose and health options map to the container Config', () => {
  const out = translateOptions('worker', {
    user: '1000:1000',
    workdir: '/rails',
    entrypoint: '/bin/sh',
    hostname: 'app1',
    'stop-signal': 'SIGQUIT',
    'stop-timeout': 20,
    expose: ['3000', '9394/udp'],
    'health-cmd': 'curl -f http://localhost/up',
    'health-interval': '10s',
    'health-timeout': '1m30s',
    'health-retries': 3,
  });
  assert.deepEqual(out.config, {
    User: '1000:1000',
    WorkingDir: '/rails',
    Entrypoint: ['/bin/sh'],
    Hostname: 'app1',
    StopSignal: 'SIGQUIT',
    StopTimeout: 20,
    ExposedPorts: { '3000/tcp': {}, '9394/udp': {} },
    Healthcheck: { Test: ['CMD-SHELL', 'curl -f http://localhost/up'], Interval: 10e9, Timeout: 90e9, Retries: 3 },
  });
  assert.deepEqual(out.host, {});
  assert.deepEqual(translateOptions('web', { 'no-healthcheck': true }).config, { Healthcheck: { Test: ['NONE'] } });
  assert.deepEqual(translateOptions('web', undefined), { host: {}, config: {} });
});

test('docker units: binary multipliers, optional b, decimals; durations in ns', () => {
  assert.equal(parseBytes('512m'), 536_870_912);
  assert.equal(parseBytes('1.5g'), 1_610_612_736);
  assert.equal(parseBytes('64MiB'), 64 * 1024 ** 2);
  assert.equal(parseBytes(4096), 4096);
  assert.equal(parseBytes('lots'), undefined);
  assert.equal(parseBytes('-1g'), undefined);
  assert.equal(parseDuration('500ms'), 500e6);
  assert.equal(parseDuration('1h'), 3600e9);
  assert.equal(parseDuration('10'), undefined);
});

test('bad values are refused naming the role and the option; a good value is the control', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ memory: 'lots' }, /role web: options\.memory must be a size like 512m or 2g/],
    [{ memory: '1k' }, /options\.memory must be a size .*at least/],
    [{ cpus: 'many' }, /options\.cpus must be a number of CPUs/],
    [{ cpus: 0 }, /options\.cpus/],
    [{ ulimit: 'files=1' }, /options\.ulimit must be NAME=SOFT\[:HARD\]/],
    [{ 'add-host': 'db' }, /options\.add-host must be HOST:IP/],
    [{ init: 'yes' }, /options\.init must be true or false/],
    [{ workdir: 'rails' }, /options\.workdir must be an absolute path/],
    [{ user: ['a', 'b'] }, /options\.user takes one value, not a list/],
    [{ 'health-interval': '10' }, /options\.health-interval must be a duration/],
    [{ 'no-healthcheck': true, 'health-cmd': 'true' }, /no-healthcheck cannot be combined/],
    [{ frobnicate: 1 }, /options\.frobnicate is not a docker run option this agent passes on/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => translateOptions('web', options as never), message, JSON.stringify(options));
  }
  assert.equal(translateOptions('web', { memory: '512m', cpus: '0.5' }).host.NanoCpus, 500_000_000);
});
