// The parser both the CLI and the agent judge volume/mount/publish/network-alias/security-opt with:
// what real Kamal configs write passes, every hostile form is refused with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MountSyntaxError, isHostControlPath, parseMount, parseNetworkAlias, parsePublish, parsePublishList, parseSecurityOpt, splitCsv,
} from '../../../shared/docker-mounts.js';

const refused = (fn: () => unknown, why: RegExp) => assert.throws(fn, (e: unknown) => e instanceof MountSyntaxError && why.test(e.message), why.source);

test('mount: binds and named volumes become volume strings; tmpfs its options; NFS carries the local driver options', () => {
  assert.deepEqual(parseMount('type=bind,source=/data/config,target=/etc/app,readonly'), { type: 'bind', volume: '/data/config:/etc/app:ro' });
  assert.deepEqual(parseMount('type=bind,src=/srv/x,dst=/x,ro=false,bind-propagation=rprivate'), { type: 'bind', volume: '/srv/x:/x' });
  assert.deepEqual(parseMount('source=cache,target=/cache,volume-nocopy'), { type: 'volume', volume: 'cache:/cache:nocopy' });
  assert.deepEqual(parseMount('type=tmpfs,target=/tmp/cache,tmpfs-size=64m,tmpfs-mode=1777'), { type: 'tmpfs', target: '/tmp/cache', options: 'size=64m,mode=1777' });
  assert.deepEqual(
    parseMount('type=volume,source=media,target=/media,volume-driver=local,volume-opt=type=nfs,"volume-opt=o=addr=10.0.0.5,rw,nfsvers=4",volume-opt=device=:/exports/media'),
    { type: 'volume', volume: 'media:/media', nfs: { type: 'nfs', o: 'addr=10.0.0.5,rw,nfsvers=4', device: ':/exports/media' } },
  );
  assert.deepEqual(splitCsv('a,"b,""c""",d'), ['a', 'b,"c"', 'd']);
});

test('mount: malformed, unknown, repeated and host-reaching keys are refused', () => {
  refused(() => parseMount('type=bind,source=/data/x,target=/x,bind-propagation=rshared'), /bind-propagation=rshared is refused/);
  refused(() => parseMount('type=bind,source=/data/x,target=/x,bind-propagation=shared'), /bind-propagation=shared is refused/);
  refused(() => parseMount('type=bind,source=/data/x,target=/x,foo=bar'), /key "foo" is not one Berth passes on/);
  refused(() => parseMount('type=bind,source=/data/x,source=/data/y,target=/x'), /key source is given twice/);
  refused(() => parseMount('type=bind,src=/data/x,source=/data/y,target=/x'), /key source is given twice/);
  refused(() => parseMount('type=bind,source=/data/../etc,target=/x'), /must not contain "\.\."/);
  refused(() => parseMount('type=bind,source=data,target=/x'), /absolute host path/);
  refused(() => parseMount('type=bind,source=/data/x,target=/'), /other than \//);
  refused(() => parseMount('type=bind,source=/data/x,target=/a/../b'), /without "\.\."/);
  refused(() => parseMount('type=bind,source=/data/x,target=/x\ninjected'), /control character/);
  refused(() => parseMount(`type=bind,source=/data/${'a'.repeat(2000)},target=/x`), /longer than 1024/);
  refused(() => parseMount('"type=bind,source=/data/x,target=/x'), /unterminated quote/);
  refused(() => parseMount('type=bind,source=/da"ta,target=/x'), /quote inside/);
  refused(() => parseMount('type=npipe,source=x,target=/x'), /type=npipe is refused/);
  refused(() => parseMount('type=volume,target=/x'), /needs source=NAME/);
  refused(() => parseMount('type=volume,source=media,target=/x,volume-driver=rexray'), /only the local driver/);
  // The local driver binding a host path or a device would bypass the bind guardrails.
  refused(() => parseMount('type=volume,source=media,target=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/var/run'), /only NFS volumes/);
  refused(() => parseMount('type=volume,source=media,target=/x,volume-opt=type=ext4,volume-opt=device=/dev/sda1'), /only NFS volumes/);
  refused(() => parseMount('type=volume,source=media,target=/x,volume-opt=type=nfs,"volume-opt=o=addr=1.2.3.4,bind",volume-opt=device=:/e'), /NFS option bind is refused/);
  refused(() => parseMount('type=volume,source=media,target=/x,volume-opt=type=nfs,volume-opt=o=nfsvers=4,volume-opt=device=:/e'), /needs volume-opt=o=addr=SERVER/);
  refused(() => parseMount('type=volume,source=media,target=/x,volume-opt=type=nfs,volume-opt=o=addr=h,volume-opt=device=:/e/../f'), /not an NFS export/);
  refused(() => parseMount('type=volume,source=media,target=/x,volume-opt=type=nfs,volume-opt=type=nfs4'), /volume-opt type is given twice/);
  refused(() => parseMount('type=bind,source=/data/x,target=/x,volume-opt=type=nfs'), /volume-opt does not apply to type=bind/);
  refused(() => parseMount('type=tmpfs,target=/t,tmpfs-size=lots'), /tmpfs-size/);
  refused(() => parseMount('type=bind,source=/data/x,target=/x,readonly=maybe'), /not true or false/);
});

test('publish: host ports are required and bounded; ranges are capped; the same host port twice is refused', () => {
  assert.deepEqual(parsePublish('4001:4001/udp'), [{ hostIp: '', hostPort: 4001, containerPort: 4001, protocol: 'udp' }]);
  assert.deepEqual(parsePublish('127.0.0.1:9000:9001'), [{ hostIp: '127.0.0.1', hostPort: 9000, containerPort: 9001, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('[::1]:80:8080').map((p) => p.hostIp), ['::1']);
  assert.equal(parsePublish('5000-5009:6000-6009').length, 10);
  assert.equal(parsePublishList(['4001:4001/tcp', '4001:4001/udp']).length, 2);
  refused(() => parsePublish('4001'), /names no host port/);
  refused(() => parsePublish('1-65535:1-65535'), /publishes 65535 ports; at most 100/);
  refused(() => parsePublish('0:80'), /not from 1 to 65535/);
  refused(() => parsePublish('70000:80'), /not from 1 to 65535/);
  refused(() => parsePublish('999.1.1.1:80:80'), /not an IPv4 address/);
  refused(() => parsePublish('80-81:80'), /maps 2 host ports to 1/);
  refused(() => parsePublish('80:80\n'), /control character/);
  refused(() => parsePublishList(['127.0.0.1:80:80', '0.0.0.0:80:81']), /host port 80\/tcp is published twice/);
  assert.equal(parsePublishList(['127.0.0.1:80:80', '10.0.0.1:80:80']).length, 2);
  refused(() => parsePublishList(['80:80', '80:8080']), /host port 80\/tcp is published twice/);
});

test('network-alias is a host name; security-opt passes only no-new-privileges', () => {
  assert.equal(parseNetworkAlias('Search.internal'), 'search.internal');
  refused(() => parseNetworkAlias('a b'), /not a host name/);
  refused(() => parseNetworkAlias('-x'), /not a host name/);
  refused(() => parseNetworkAlias('x\ny'), /control character/);
  for (const v of ['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true']) assert.equal(parseSecurityOpt(v), 'no-new-privileges:true');
  refused(() => parseSecurityOpt('seccomp=unconfined'), /seccomp profile/);
  refused(() => parseSecurityOpt('apparmor=unconfined'), /AppArmor/);
  refused(() => parseSecurityOpt('label=disable'), /SELinux/);
  refused(() => parseSecurityOpt('systempaths=unconfined'), /unmasks/);
  refused(() => parseSecurityOpt('no-new-privileges:false'), /the only security-opt allowed/);
});

test('host-control paths: the root, the socket, kernel and engine directories, nothing else', () => {
  for (const p of ['/', '/var/run/docker.sock', '/run/docker.sock', '/proc', '/sys/fs/cgroup', '/dev/disk', '/var/lib/docker/containers', '/var/lib/containerd']) assert.ok(isHostControlPath(p), p);
  for (const p of ['/var', '/var/lib', '/etc', '/var/lib/berth', '/data', '/procfs', '/var/log']) assert.ok(!isHostControlPath(p), p);
});
