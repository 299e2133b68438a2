// An accessory's options.publish / volume / mount / network-alias, as real
// Kamal configs write them (a load balancer publishing 80/443 with an NFS
// mount, a database's read-only bind): they load like a role's, with the one
// warning naming the agent option that decides; hostile forms are errors
// naming the key; the agent feature is required only when they are used.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planFeatures } from '../../../cli/manifest-builder.js';
import { planContainers } from '../../../cli/config/plan.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs } from '../../support/cli-fixtures.js';

const app = appDirs();
const BASE = `service: demo
image: acme/demo:latest
servers:
  web:
    hosts:
      - 10.0.0.1
proxy:
  host: demo.example.com
  app_port: 3000
accessories:
  lb:
    image: basecamp/kamal-proxy:lb
    host: 10.0.0.1
`;
const NFS = 'type=volume,src=certificates,dst=/certificates,volume-driver=local,volume-opt=type=nfs,volume-opt=device=:/certs,"volume-opt=o=addr=nfs.example.com,nfsvers=3,rw"';
const withOptions = (options: string, extra = '', base = BASE) => `${base}${extra}    options:\n${options}`;
const load = (yml: string) => loadConfig(app({ 'config/deploy.yml': yml }), undefined, '');
async function bad(yml: string): Promise<string> {
  const err = await load(yml).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}
const strip = (w: string[]) => w.map((x) => x.replace(/ \(config\/deploy\.yml:\d+\)$/, ''));

describe('accessory options that reach beyond the container', () => {
  it('load like a role’s: publish and host-control mounts warn once each, naming the agent option', async () => {
    const { config, warnings } = await load(withOptions(
      '      publish:\n        - 80:80\n        - 443:443\n' +
      `      mount: '${NFS}'\n` +
      '      v: /data/lb:/etc/lb:ro\n' +
      '      network-alias: balancer\n',
      '    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n',
    ));
    assert.deepEqual(config.accessories?.[0]?.options, {
      publish: ['80:80', '443:443'],
      mount: NFS,
      volume: '/data/lb:/etc/lb:ro',
      'network-alias': 'balancer',
    });
    assert.deepEqual(strip(warnings).sort(), [
      'warning: accessories/lb/options/publish: publishes host ports; agents refuse the release unless started with berth-agent run --allow-publish (naming the ports, or all)',
      'warning: accessories/lb/volumes/0: mounting /var/run/docker.sock gives the container control of the host; agents refuse it unless started with berth-agent run --allow-host-control-mounts',
    ]);
    assert.deepEqual(planFeatures(planContainers(config), config), ['accessories.docker.v2', 'accessories.v1']);
  });

  it('a read-only bind mount (a database’s data directory) loads without a warning', async () => {
    const { config, warnings } = await load(withOptions('      mount:\n        - type=bind,source=/data/pg,target=/var/lib/postgresql,readonly\n'));
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.accessories?.[0]?.options, { mount: ['type=bind,source=/data/pg,target=/var/lib/postgresql,readonly'] });
  });

  it('refuse hostile and malformed forms, naming the key and line', async () => {
    const cases: [string, RegExp][] = [
      ['      mount: "type=bind,source=/var/lib/berth,target=/x"\n', /^accessories\/lb\/options\/mount: mounting \/var\/lib\/berth is refused by Berth's guardrails.*\(config\/deploy.yml:\d+\)$/],
      ['      mount: "type=bind,source=/data/x,target=/x,bind-propagation=shared"\n', /accessories\/lb\/options\/mount: bind-propagation=shared is refused/],
      ['      mount: "type=volume,source=x1,target=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc"\n', /accessories\/lb\/options\/mount: volume-opt type=none is refused/],
      ['      volume: "/etc:/host-etc"\n', /accessories\/lb\/options\/volume: mounting \/etc is refused/],
      ['      v: "/data/../root:/r"\n', /accessories\/lb\/options\/v: mounting \/data\/\.\.\/root is refused/],
      ['      publish: "80"\n', /accessories\/lb\/options\/publish: "80" names no host port/],
      ['      p: ["80:80", "80:8080"]\n', /accessories\/lb\/options\/p: host port 80\/tcp is published twice/],
      ['      network-alias: "a;b"\n', /accessories\/lb\/options\/network-alias: "a;b" is not a host name/],
      ['      publish: true\n', /accessories\/lb\/options\/publish: needs a value/],
      ['      network: host\n', /accessories\/lb\/options\/network: is refused/],
    ];
    for (const [options, expected] of cases) assert.match(await bad(withOptions(options)), expected, options);
    // port: publishes a host port of the same container: both may not name one.
    assert.match(await bad(withOptions('      publish: "0.0.0.0:6379:6380"\n', '    port: 6379\n')), /accessories\/lb\/options\/publish: host port 6379\/tcp is published twice \(with port:\)/);
  });

  it('the agent feature is required only when an accessory on a role’s host uses them', async () => {
    const plain = await load(withOptions('      memory: 1g\n      restart: always\n'));
    assert.deepEqual(planFeatures(planContainers(plain.config), plain.config), ['accessories.v1']);
    const elsewhere = await load(withOptions('      publish: "80:80"\n', '', BASE.replace('    host: 10.0.0.1\n', '    host: 10.0.0.9\n')));
    assert.deepEqual(planFeatures(planContainers(elsewhere.config), elsewhere.config), [], 'no manifest carries it');
    const secOpt = await load(withOptions('      security-opt: no-new-privileges:true\n'));
    assert.deepEqual(planFeatures(planContainers(secOpt.config), secOpt.config), ['roles.docker.v2', 'accessories.v1']);
  });
});
