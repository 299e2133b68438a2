// deploy logs / deploy exec: the command line, which servers, how lines are prefixed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine as parseWith } from '../../../cli/args.js';
import { commands } from '../../../cli/main.js';

const parseCommandLine = (argv: string[]) => parseWith(argv, commands);
import { execServers } from '../../../cli/actions/exec.js';
import { createFollowResume, createLinePrefixer, logsQuery } from '../../../cli/actions/logs.js';
import { serversOf } from '../../../cli/rollout/fleet.js';
import type { DeployConfig } from '../../../cli/config/types.js';
import { readNdjson } from '../../../cli/ndjson.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliRunner } from '../../support/cli-fixtures.js';

function command(argv: string[]) {
  const parsed = parseCommandLine(argv);
  assert.equal(parsed.kind, 'command');
  return parsed as Extract<ReturnType<typeof parseCommandLine>, { kind: 'command' }>;
}

test('exec: everything after -- is the command, options included', () => {
  const p = command(['exec', '-r', 'worker', '--reuse', '--', 'sh', '-c', 'ls -la --color']);
  assert.equal(p.name, 'exec');
  assert.deepEqual(p.positionals, ['sh', '-c', 'ls -la --color']);
  assert.equal(p.values.role, 'worker');
  assert.equal(p.values.reuse, true);
  // Help and output options after -- are the remote command's, not the CLI's.
  assert.deepEqual(command(['exec', '--', 'df', '-h']).positionals, ['df', '-h']);
  assert.deepEqual(command(['exec', '--', 'bin/rails', '--help']).positionals, ['bin/rails', '--help']);
  assert.equal(command(['exec', '--', 'tool', '--json']).values.json, undefined);
  assert.equal(parseCommandLine(['exec', '--help', '--', 'df']).kind, 'help');
  assert.throws(() => parseCommandLine(['exec']), /needs \[--\] CMD/);
  assert.throws(() => parseCommandLine(['exec', '--', ...Array.from({ length: 65 }, () => 'a')]), /unexpected argument/);
});

test('exec: a --json after -- does not turn the CLI\'s own error into JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-exec-args-'));
  const run = cliRunner(dir, join(dir, 'xdg'));
  const plain = await run(['exec', '--', 'tool', '--json']);
  assert.notEqual(plain.code, 0);
  assert.match(plain.stderr, /^error: no deploy\.yml/);
  assert.equal(plain.stdout, '');
  const json = await run(['exec', '--json', '--', 'tool']);
  assert.match(json.stdout, /^\{"error":\{"code":"config_invalid"/, 'the CLI\'s own --json still applies');
});

test('logs: -f -n --since --grep -r', () => {
  const p = command(['logs', '-f', '-n', '20', '--since', '10m', '--grep', 'error', '-r', 'web']);
  assert.deepEqual(
    { follow: p.values.follow, lines: p.values.lines, since: p.values.since, grep: p.values.grep, role: p.values.role },
    { follow: true, lines: '20', since: '10m', grep: 'error', role: 'web' },
  );
  assert.equal(logsQuery('app', { destination: 'prod', role: 'web', follow: true, tail: '20', since: '10m' }), '/v1/services/app/logs?destination=prod&role=web&follow=1&tail=20&since=10m');
});

const config = {
  service: 'app',
  destination: '',
  primary_role: 'web',
  servers: [{ host: 'a.example', port: 7443 }, { host: 'b.example', port: 7443 }, { host: 'c.example', port: 7443 }],
  roles: [
    { name: 'web', primary: true, hosts: [{ address: { host: 'a.example', port: 7443 }, tags: [] }, { address: { host: 'b.example', port: 7443 }, tags: [] }] },
    { name: 'jobs', primary: false, hosts: [{ address: { host: 'c.example', port: 7443 }, tags: [] }] },
  ],
} as unknown as DeployConfig;

test('servers: all for logs, the role\'s for -r and exec, one for --host', () => {
  assert.equal(serversOf(config, undefined).length, 3);
  assert.deepEqual(serversOf(config, 'jobs').map((a) => a.host), ['c.example']);
  assert.throws(() => serversOf(config, 'nope'), /role nope is not in the config \(roles: web, jobs\)/);
  assert.deepEqual(execServers(config, undefined, undefined), { role: 'web', servers: config.roles[0]!.hosts.map((h) => h.address) });
  assert.deepEqual(execServers(config, undefined, 'b.example').servers.map((a) => a.host), ['b.example']);
  assert.deepEqual(execServers(config, undefined, 'b.example:7443').servers.map((a) => a.host), ['b.example']);
  assert.throws(() => execServers(config, undefined, 'c.example'), /--host c.example is not a server of the web role/);
});

test('prefix: the host; the role with several roles; the release once there are two; control characters removed', () => {
  const line = (host: string, role: string, release: string, text: string) => ({ host, t: '', role, release, container: '', stream: 'stdout', line: text });
  const one = createLinePrefixer(false);
  assert.equal(one(line('a:7443', 'web', 'r1', 'hello\x1b[31m red')), 'a:7443 | hello red');
  assert.equal(one(line('a:7443', 'web', 'r2', 'new')), 'a:7443 r2 | new');
  const many = createLinePrefixer(true);
  assert.equal(many(line('c:7443', 'jobs', 'r1', 'x')), 'c:7443 jobs | x');
});

test('NDJSON reader: records split anywhere, keepalive lines skipped, junk refused', async () => {
  async function* chunks(parts: string[]) {
    for (const p of parts) yield Buffer.from(p);
  }
  const text = '{"a":1}\n\n{"b":"é"}\n{"c":3}';
  const out: unknown[] = [];
  for await (const r of readNdjson(chunks([text.slice(0, 3), text.slice(3, 11), text.slice(11)]), 'h')) out.push(r);
  assert.deepEqual(out, [{ a: 1 }, { b: 'é' }, { c: 3 }]);
  await assert.rejects(async () => {
    for await (const _ of readNdjson(chunks(['{"a":1}\nnot json\n']), 'host-x')) void _;
  }, /host-x sent a line that is not JSON/);
  await assert.rejects(async () => {
    for await (const _ of readNdjson(chunks(['[1,2]\n']), 'host-x')) void _;
  }, /not an object/);
  // The agent failed mid-answer: the records before it arrive, then its error, named by host.
  const before: unknown[] = [];
  await assert.rejects(async () => {
    for await (const r of readNdjson(chunks(['{"a":1}\n{"error":{"code":"not_found","message":"no such container"}}\n{"b":2}\n']), 'host-x')) before.push(r);
  }, (err: Error & { code?: string; status?: number }) => err.message === 'host-x: no such container' && err.code === 'not_found' && err.status === 502);
  assert.deepEqual(before, [{ a: 1 }]);
  // Its hint reaches the operator too.
  await assert.rejects(async () => {
    for await (const _ of readNdjson(chunks(['{"error":{"code":"unavailable","message":"the engine went away","hint":"check dockerd on the server"}}\n']), 'host-x')) void _;
  }, (err: Error & { hint?: string }) => err.hint === 'check dockerd on the server');
});

test('logs -f following on after the agent ended a stream: asks from the newest line, shows each line once', () => {
  const resume = createFollowResume(() => Date.parse('2024-05-01T10:00:09Z'));
  assert.deepEqual(resume.next(), { tail: '10000', since: '2024-05-01T10:00:09.000Z' }, 'nothing shown yet: from now');
  const a1 = { container: 'web-a', t: '2024-05-01T10:00:01.000Z' };
  const b1 = { container: 'web-b', t: '2024-05-01T10:00:02.500Z' };
  assert.deepEqual([resume.fresh(a1), resume.fresh(b1)], [true, true]);
  assert.deepEqual(resume.next(), { tail: '10000', since: '2024-05-01T10:00:02.500Z' });
  // The second request repeats what each container already showed; only newer lines pass.
  assert.equal(resume.fresh(a1), false);
  assert.equal(resume.fresh(b1), false);
  assert.equal(resume.fresh({ container: 'web-a', t: '2024-05-01T10:00:02.000Z' }), true);
  assert.equal(resume.fresh({ container: 'web-c', t: '2024-05-01T10:00:00.000Z' }), true, 'a container not seen before');
});
