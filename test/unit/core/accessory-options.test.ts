// An accessory's options.volume / mount / publish / network-alias at the
// agent: judged exactly as a role's (allowed roots, protected paths,
// host-control mounts, --allow-publish), named by the accessory, and carried
// into its container beside its own port:, volumes: and directories:.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload, type ManifestPayload } from '../../../shared/manifest.js';
import { accessoryBase, accessoryChanges, accessoryContainerSpec, accessoryRoot, accessorySummary } from '../../../agent/core/accessories.js';
import { checkRelease, guardrailPolicy, type GuardrailPolicy } from '../../../agent/core/guardrails.js';
import { withoutHostReach } from '../../../agent/core/option-mounts.js';
import { parsePublishAllowance } from '../../../agent/core/publish-policy.js';
import { DIGEST, minimalManifest } from '../../support/manifest-fixture.js';

const policy = guardrailPolicy({ protect: ['/var/lib/berth'], accessoryRoot: '/var/lib/berth/accessories' });
const publishing = guardrailPolicy({ protect: ['/var/lib/berth'], accessoryRoot: '/var/lib/berth/accessories', allowPublish: parsePublishAllowance(['80', '443', '9600']) });
const NFS = 'type=volume,src=certificates,dst=/certificates,volume-driver=local,volume-opt=type=nfs,volume-opt=device=:/certs,"volume-opt=o=addr=10.0.0.5,nfsvers=3,rw"';

function release(db: Record<string, unknown>, roles: Record<string, unknown> = { web: {} }): ManifestPayload {
  return parseManifestPayload(minimalManifest({
    roles,
    accessories: { db: { image: `postgres@${DIGEST}`, directories: [{ source: 'data', target: '/var/lib/postgresql' }], ...db } },
  }));
}

function refused(db: Record<string, unknown>, message: RegExp, hint: RegExp, p: GuardrailPolicy = policy): void {
  assert.throws(
    () => checkRelease(release(db), p),
    (e: unknown) => e instanceof UserError && e.code === 'guardrail_refused' && message.test(e.message) && hint.test(e.hint ?? ''),
    JSON.stringify(db),
  );
}

const spec = (m: ManifestPayload, p: GuardrailPolicy) =>
  accessoryContainerSpec(m, 'db', { network: 'berth', policy: p, base: accessoryBase(accessoryRoot('/var/lib/berth'), m, 'db'), summary: 's' }, {});

test('the container carries them: option binds and named and NFS volumes after its own, tmpfs, both port sources, an extra alias', () => {
  const m = release({
    port: '127.0.0.1:5432:5432',
    volumes: ['pgdata:/pg'],
    options: {
      publish: ['80:80', '443:443'],
      mount: ['type=bind,source=/data/pg,target=/etc/pg,readonly', NFS, 'type=tmpfs,target=/scratch'],
      volume: 'cache:/cache',
      'network-alias': 'postgres',
    },
  });
  checkRelease(m, publishing);
  const s = spec(m, publishing);
  assert.deepEqual(s.host.Binds, ['/var/lib/berth/accessories/demo/db/dirs/data:/var/lib/postgresql', 'pgdata:/pg', 'cache:/cache', '/data/pg:/etc/pg:ro', 'certificates:/certificates']);
  assert.deepEqual(s.volumeOptions, { certificates: { type: 'nfs', device: ':/certs', o: 'addr=10.0.0.5,nfsvers=3,rw' } });
  assert.deepEqual(s.host.Tmpfs, { '/scratch': '' });
  assert.deepEqual(s.host.PortBindings, {
    '80/tcp': [{ HostIp: '', HostPort: '80' }],
    '443/tcp': [{ HostIp: '', HostPort: '443' }],
    '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '5432' }],
  });
  assert.deepEqual(Object.keys(s.config.ExposedPorts ?? {}).sort(), ['443/tcp', '5432/tcp', '80/tcp']);
  assert.deepEqual(s.aliases, ['demo-db', 'postgres']);
  // One container port on two host ports: port: and publish add up.
  const both = spec(release({ port: '127.0.0.1:5432:5432', options: { publish: '127.0.0.1:9600:5432' } }), publishing);
  assert.deepEqual(both.host.PortBindings, { '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '9600' }, { HostIp: '127.0.0.1', HostPort: '5432' }] });
});

test('refused as for roles, named by the accessory, with the agent option that decides', () => {
  refused({ options: { publish: '80:80' } }, /^accessory db: option publish 80\/tcp is refused by this agent's guardrails.*allows: none/, /--allow-publish 80/);
  refused({ options: { publish: '8080:80' } }, /^accessory db: option publish 8080\/tcp is refused/, /--allow-publish 8080/, publishing);
  refused({ options: { volume: '/home/me:/x' } }, /^accessory db: volume "\/home\/me:\/x" is refused.*outside the host directories/, /--allow-bind/);
  refused({ options: { mount: 'type=bind,source=/home/me,target=/x,readonly' } }, /^accessory db: volume "\/home\/me:\/x:ro" is refused/, /--allow-bind/);
  refused({ options: { mount: 'type=bind,source=/var/run/docker.sock,target=/s' } }, /^accessory db: .*would give the container the host/, /--allow-host-control-mounts/);
  refused({ options: { volume: '/var/lib/berth/accessories/other/db/dirs/data:/steal' } }, /^accessory db: volume .* is refused.*\/var\/lib\/berth/, /no agent setting/);
  refused({ options: { mount: 'type=bind,source=/data/x,target=/x,bind-propagation=rshared' } }, /^accessory db: options\.mount .* bind-propagation=rshared is refused/, /^$/);
  refused({ options: { volume: '/data/a:/var/lib/postgresql' } }, /^accessory db: two volumes or mounts at \/var\/lib\/postgresql$/, /one thing/);
  refused({ port: '80:80', options: { publish: '80:8080' } }, /^accessory db: option publish with its port: key: host port 80\/tcp is published twice/, /once/, publishing);
  // Nesting across the release: a writable outer bind of a role makes the accessory's inner one redirectable.
  assert.throws(() => checkRelease(release({ options: { mount: 'type=bind,source=/data/app/pg,target=/pg' } }, { web: { volumes: ['/data/app:/app'] } }), policy), /lies inside \/data\/app/);
  assert.throws(() => checkRelease(release({ options: { 'network-alias': 'not a name' } }), policy), /^UserError: accessory db: options\.network-alias .*not a host name/);
  // With the owner's consent the socket passes, as for roles.
  checkRelease(release({ options: { mount: 'type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock,readonly' } }), guardrailPolicy({ hostControlMounts: true }));
});

test('a changed option is a spec change that waits for reboot', () => {
  const a = release({ options: { publish: '80:80' } }).accessories!.db!;
  const key = Buffer.alloc(32, 7);
  const none = { env: {}, files: {} };
  const before = accessorySummary(a, none, key);
  const variants: Record<string, string>[] = [{ publish: '443:443' }, { publish: '80:80', mount: NFS }, { publish: '80:80', 'network-alias': 'pg' }, { publish: '80:80', volume: 'v:/v' }];
  for (const options of variants) {
    assert.deepEqual(accessoryChanges(before, accessorySummary({ ...a, options }, none, key)), ['options'], JSON.stringify(options));
  }
});

test("a throwaway copy (a backup's verify) takes none of the host ports, aliases, binds or volumes; tmpfs mounts and the rest stay", () => {
  assert.deepEqual(withoutHostReach({ publish: '80:80', 'network-alias': 'pg', volume: 'v:/v', mount: ['type=bind,source=/data/x,target=/x', 'type=tmpfs,target=/t'], memory: '1g' }), { mount: ['type=tmpfs,target=/t'], memory: '1g' });
  assert.deepEqual(withoutHostReach({ mount: NFS }), {});
  assert.equal(withoutHostReach(undefined), undefined);
});
