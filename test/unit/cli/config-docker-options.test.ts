// The Docker options real Kamal configs use: what tightens loads, what reaches
// the host loads with one warning naming the agent option that decides, and
// malformed or host-giving values are errors naming the key and line.
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
    cmd: bin/web
proxy:
  host: demo.example.com
  app_port: 3000
`;
const withOptions = (options: string, extra = '') => BASE.replace('    cmd: bin/web', `    cmd: bin/web\n    options:\n${options}`) + extra;
const load = (yml: string) => loadConfig(app({ 'config/deploy.yml': yml }), undefined, '');
async function bad(yml: string): Promise<string> {
  const err = await load(yml).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}
const strip = (w: string[]) => w.map((x) => x.replace(/ \(config\/deploy\.yml:\d+\)$/, ''));

describe('docker options real configs use', () => {
  it('load, short names as long ones; publish and host-control mounts warn once each, naming the agent option', async () => {
    const { config, warnings } = await load(withOptions(
      '      p: ["4001:4001/tcp", "4001:4001/udp"]\n' +
      '      v: /data/config:/etc/app:ro\n' +
      '      mount: ["type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock,readonly", "type=bind,source=/,target=/rootfs,readonly"]\n' +
      '      network-alias: search\n' +
      '      security-opt: no-new-privileges:true\n',
      'volumes:\n  - /proc:/host/proc:ro\n',
    ));
    assert.deepEqual(config.roles[0]?.options, {
      publish: ['4001:4001/tcp', '4001:4001/udp'],
      volume: '/data/config:/etc/app:ro',
      mount: ['type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock,readonly', 'type=bind,source=/,target=/rootfs,readonly'],
      'network-alias': 'search',
      'security-opt': 'no-new-privileges:true',
    });
    assert.deepEqual(strip(warnings).sort(), [
      'warning: servers/web/options/mount: mounting /var/run/docker.sock gives the container control of the host; agents refuse it unless started with berth-agent run --allow-host-control-mounts',
      'warning: servers/web/options/p: publishes host ports; agents refuse the release unless started with berth-agent run --allow-publish (naming the ports, or all)',
    ]);
    assert.deepEqual(planFeatures(planContainers(config), config), ['roles.docker.v2']);
    const plain = await load(withOptions('      memory: 1g\n'));
    assert.deepEqual(planFeatures(planContainers(plain.config), plain.config), []);
  });

  it('refuse what loosens, malformed values and hostile input, naming the key and line', async () => {
    const cases: [string, RegExp][] = [
      ['      security-opt: seccomp=unconfined\n', /^servers\/web\/options\/security-opt: is refused by Berth's guardrails: "seccomp=unconfined" changes the seccomp profile.*\(config\/deploy.yml:9\)$/],
      ['      security-opt: [no-new-privileges, "apparmor=unconfined"]\n', /security-opt: is refused.*AppArmor/],
      ['      network-alias: "a b"\n', /network-alias: "a b" is not a host name/],
      ['      publish: "1-65535:1-65535"\n', /publish: "1-65535:1-65535" publishes 65535 ports; at most 100 per role/],
      ['      publish: "8080"\n', /publish: "8080" names no host port/],
      ['      mount: "type=bind,source=/data/x,target=/x,bind-propagation=rshared"\n', /mount: bind-propagation=rshared is refused/],
      ['      mount: "type=bind,source=/data/x,target=/x,foo=1"\n', /mount: key "foo" is not one Berth passes on/],
      ['      mount: "type=bind,source=/data/x,source=/data/y,target=/x"\n', /mount: key source is given twice/],
      ['      mount: "type=volume,source=x1,target=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc"\n', /mount: volume-opt type=none is refused: only NFS volumes/],
      ['      mount: "type=bind,source=/var/lib/berth,target=/x"\n', /mount: mounting \/var\/lib\/berth is refused/],
      ['      volume: "/data/../etc:/x"\n', /options\/volume: mounting \/data\/\.\.\/etc is refused/],
      ['      volume: "/data/x:/x\\ninjected"\n', /options\/volume: should be a string, a number, true, or a list of strings \(one line each\)/],
      ['      v: /data/a:/a\n      volume: /data/b:/b\n', /options\/volume: repeats volume/],
      ['      network: host\n', /network: is refused by Berth's guardrails/],
      ['      privileged: true\n', /privileged: is refused/],
    ];
    for (const [options, expected] of cases) assert.match(await bad(withOptions(options)), expected, options);
  });

  it('a named network (apps sharing one, as Kamal users do) loads with a warning and is not sent; host, none and container: stay refused', async () => {
    const { config, warnings } = await load(withOptions('      network: scout_shared\n      network-alias: scout-web\n'));
    assert.deepEqual(config.roles[0]?.options, { 'network-alias': 'scout-web' });
    assert.deepEqual(strip(warnings), [
      "warning: servers/web/options/network: scout_shared: not in force: containers join this agent's own network, which every app and accessory on the agent shares, so they reach each other there (by container name and network-alias) as on a shared Docker network",
    ]);
    for (const refused of ['host', 'none', '"container:other"']) {
      assert.match(await bad(withOptions(`      network: ${refused}\n`)), /^servers\/web\/options\/network: is refused by Berth's guardrails: the agent attaches app containers to its own network/, refused);
    }
  });

  it('a publishing role runs one container per server', async () => {
    assert.match(await bad(withOptions('      publish: "4001:4001"\n', 'replicas:\n  web: 2\n')), /^replicas\/web: role web publishes host ports \(options.publish\), so it runs one container per server, not 2/);
  });
});
