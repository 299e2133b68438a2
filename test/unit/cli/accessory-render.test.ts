// What `deploy accessory …` prints, as data: the renderers over agents'
// answers, and which servers NAME|all resolves to from a deploy.yml.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderAccessoryActions, renderAccessoryDetails, renderAccessoryRemoved } from '../../../cli/actions/accessory-render.js';
import { accessoryServers, accessoryTargets, targetServers } from '../../../cli/actions/accessory-target.js';
import { loadConfig } from '../../../cli/config/load.js';
import { plainStyle } from '../../../cli/output/style.js';
import type { AccessoryStatus } from '../../../shared/api-types.js';
import { appDirs } from '../../support/cli-fixtures.js';

const status = (over: Partial<AccessoryStatus> = {}): AccessoryStatus => ({
  name: 'db', image: 'postgres@sha256:ab', container: 'demo-db-x1', state: 'running', port: '5432:5432',
  host: 'demo-db', changes: [], directories: ['/srv/berth/demo/db/data'], ...over,
});

describe('accessory renderers', () => {
  it('actions: per server and accessory; reboot says what changed, or that nothing did; an error and an existing boot stand out', () => {
    const text = renderAccessoryActions('reboot', [
      { host: 'a:7443', accessory: 'db', result: { accessory: status(), changed: ['image', 'env'] } },
      { host: 'a:7443', accessory: 'cache', result: { accessory: status({ name: 'cache', state: 'restarting' }), changed: [] } },
      { host: 'b:7443', accessory: 'cache', result: null, error: 'b:7443: timed out' },
    ], plainStyle);
    assert.deepEqual(text.split('\n'), [
      'HOST    ACCESSORY  RESULT                    STATE       CHANGED',
      'a:7443  db         rebooted                  running     image, env',
      'a:7443  cache      rebooted                  restarting  nothing changed',
      'b:7443  cache      error: b:7443: timed out  -           -',
      '',
    ]);
    assert.match(renderAccessoryActions('boot', [{ host: 'a', accessory: 'db', result: { exists: true } }], plainStyle), /a +db +already booted +- +- \(deploy accessory reboot db replaces it\)/);
    assert.match(renderAccessoryActions('start', [{ host: 'a', accessory: 'db', result: { accessory: status(), changed: [] } }], plainStyle), /a +db +started +running +-\n$/);
  });

  it('remove: the container and the directories purged; control characters from an agent are removed', () => {
    const text = renderAccessoryRemoved([
      { host: 'a', accessory: 'db', result: { container: 'demo-db-x1', purged: ['/srv/berth/demo/db/data'] } },
      { host: 'b', accessory: 'db', result: { container: null, purged: [] } },
      { host: 'c', accessory: 'db', result: null },
      { host: 'd', accessory: 'db', result: null, error: 'bad\u001b[31m news' },
    ], plainStyle);
    assert.deepEqual(text.split('\n').slice(1, 5).map((l) => l.split(/ {2,}/)), [
      ['a', 'db', 'removed demo-db-x1', '/srv/berth/demo/db/data'],
      ['b', 'db', 'no container', '-'],
      ['c', 'db', 'not in the current release here', '-'],
      ['d', 'db', 'error: bad news', '-'],
    ]);
  });

  it('details: a block per accessory placed on the server; pending changes say reboot applies them; missing and unreachable named', () => {
    const text = renderAccessoryDetails([
      { host: 'a', expected: ['db', 'cache'], accessories: [status({ changes: ['image', 'env'] })] },
      { host: 'b', expected: ['db'], accessories: null },
      { host: 'c', expected: ['db'], accessories: null, error: 'refused' },
      { host: 'd', expected: ['db'], accessories: [status({ container: null, state: 'missing', port: null, directories: [] })] },
    ], plainStyle);
    assert.equal(text, [
      'db on a',
      '  image       postgres@sha256:ab',
      '  container   demo-db-x1',
      '  state       running',
      '  port        5432:5432',
      '  host name   demo-db',
      '  changes     reboot to apply: image, env',
      '  directories /srv/berth/demo/db/data',
      '',
      'cache on a: not in the current release here (deploy push sends it)',
      '',
      'b: not deployed here',
      '',
      'c: error: refused',
      '',
      'db on d',
      '  image       postgres@sha256:ab',
      '  container   -',
      '  state       missing',
      '  port        -',
      '  host name   demo-db',
      '  changes     none',
      '  directories -',
      '',
    ].join('\n'));
  });
});

describe('accessory targets', () => {
  const app = appDirs();
  const config = async (accessories: string) => (await loadConfig(app({
    'deploy.yml': `service: demo
image: 127.0.0.1:5000/demo:latest
servers:
  web:
    - 10.0.0.1
    - 10.0.0.2:7444
  worker:
    hosts:
      - 10.0.0.3:
          - batch
proxy:
  host: demo.test
${accessories}`,
  }))).config;

  it('NAME: the servers its host, role or tag places it on; all: every accessory in the config order', async () => {
    const c = await config(`accessories:
  db:
    image: postgres:16
    host: 10.0.0.2
  cache:
    image: redis:7
    roles: [web]
  queue:
    image: redis:7
    tags: [batch]
`);
    const hosts = (name: string | undefined) => accessoryTargets(c, name).map((t) => [t.name, t.servers.map((s) => `${s.host}:${s.port}`)]);
    assert.deepEqual(hosts('db'), [['db', ['10.0.0.2:7444']]]);
    assert.deepEqual(hosts('all'), [['db', ['10.0.0.2:7444']], ['cache', ['10.0.0.1:7443', '10.0.0.2:7444']], ['queue', ['10.0.0.3:7443']]]);
    assert.deepEqual(hosts(undefined), hosts('all'));
    assert.deepEqual(targetServers(c, accessoryTargets(c, 'all')).map((s) => s.host), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.deepEqual(accessoryServers(c, 'queue').map((s) => s.host), ['10.0.0.3']);
    assert.throws(() => accessoryServers(c, 'all'), /name one accessory, not all/);
    assert.throws(() => accessoryTargets(c, 'pg'), (e: Error & { code?: string }) => e.code === 'usage' && /no accessory named "pg" in deploy.yml \(accessories: db, cache, queue\)/.test(e.message));
  });

  it('no accessories, or one placed on a host that is not a server: usage errors', async () => {
    const none = await config('');
    assert.throws(() => accessoryTargets(none, 'all'), /deploy.yml has no accessories/);
    const c = await config('accessories:\n  db:\n    image: postgres:16\n    host: 10.0.0.9\n');
    assert.throws(() => accessoryTargets(c, 'db'), /accessory db is placed on 10.0.0.9, not a server of deploy.yml/);
  });
});
