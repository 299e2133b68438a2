// Accepting a signed release (the one transaction that commits seq, jti, release,
// deploy and lock together), and the per-service view built from it.
import type { EventEmitter } from 'node:events';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import { manifestSubject, type ManifestPayload } from '../../shared/manifest.js';
import { findRouteClash, routePrefixes, type RouteClash } from '../../shared/routes.js';
import type { Db } from './db.js';
import { insertEvent, readCurrentDeployId, readDeployLock, toDeployRecord, type DeployRow } from './deploys-repo.js';
import { recordJti } from './keys-repo.js';
import { insertAudit } from './audit-repo.js';
import { deployBlockedError, readOperatorLock } from './operator-locks-repo.js';
import type { AcceptReleaseInput, CurrentRelease, DeployRecord, Route, ServiceSummary } from './types.js';

type SeqRow = { service: string; destination: string; seq: number; current_deploy_id: number | null };

const SEQ_AHEAD_MS = 15 * 60 * 1000;

export function createReleasesRepo(db: Db, now: () => number, bus: EventEmitter) {
  const seq = (service: string, destination: string): number =>
    db.get<SeqRow>('SELECT seq FROM service_seq WHERE service = ? AND destination = ?', service, destination)?.seq ?? 0;

  const currentOf = (deployId: number | null): CurrentRelease | null => {
    if (deployId === null) return null;
    const d = db.get<DeployRow>('SELECT * FROM deploys WHERE id = ?', deployId);
    return d ? { version: d.version, image: d.image, seq: d.seq, deploy_id: d.id } : null;
  };

  /**
   * A host and path prefix this manifest routes that the route table gives to
   * another service or destination, or that two of its own roles both route.
   */
  function routeClash(p: ManifestPayload): RouteClash | undefined {
    const own = [
      ...Object.entries(p.roles).flatMap(([role, r]) =>
        r.proxy ? [{ owner: `role ${role} of ${manifestSubject(p.service, p.destination)}`, hosts: r.proxy.hosts, prefixes: r.proxy.path_prefixes }] : [],
      ),
      // Routed accessories claim hosts as roles do (their route key is `service.name`).
      ...Object.entries(p.accessories ?? {}).flatMap(([name, a]) =>
        a.proxy ? [{ owner: `accessory ${name} of ${manifestSubject(p.service, p.destination)}`, hosts: a.proxy.hosts, prefixes: a.proxy.path_prefixes }] : [],
      ),
    ];
    if (own.length === 0) return undefined;
    const inner = findRouteClash(own);
    if (inner) return inner;
    const rows = db.all<{ service: string; destination: string; route: string }>('SELECT service, destination, route FROM routes');
    for (const row of rows) {
      // Route keys are `service` or `service.role`; service names cannot contain dots.
      if (row.destination === p.destination && (row.service === p.service || row.service.startsWith(`${p.service}.`))) continue;
      const route = JSON.parse(row.route) as Route;
      const held = { owner: manifestSubject(row.service.split('.')[0]!, row.destination), hosts: route.hosts, prefixes: routePrefixes(route) };
      // The other service's claims first, so the clash names it as the holder.
      const clash = findRouteClash([held, ...own.map((c) => ({ ...c, owner: 'this release' }))]);
      if (clash) return clash;
    }
    return undefined;
  }

  function acceptRelease(a: AcceptReleaseInput): DeployRecord {
    const p = a.payload;
    const name = manifestSubject(p.service, p.destination);
    const { record, event } = db.transaction(() => {
      const nowMs = now();
      if (a.requestJti) recordJti(db, nowMs, a.requestJti.jti, a.requestJti.exp, 'request token');
      recordJti(db, nowMs, p.jti, p.exp, 'release manifest');

      const last = seq(p.service, p.destination);
      if (p.seq <= last) {
        throw new ConflictError(
          `seq ${p.seq} is not above the last accepted seq ${last} for ${name}`,
          'sign a new manifest with a higher seq (the CLI does this from GET /v1/services)',
          'seq_not_increasing',
        );
      }
      // A seq far in the future would make the service undeployable for good
      // (every later manifest must exceed it), so cap it near the CLI's rule
      // max(now_ms, last + 1): the manifest's 15-minute lifetime plus room for
      // a million releases past the last one.
      const ceiling = Math.max(last + 1_000_000, nowMs + SEQ_AHEAD_MS);
      if (p.seq > ceiling) {
        throw new ConflictError(
          `seq ${p.seq} is too far ahead for ${name} (at most ${ceiling} now; the last accepted is ${last})`,
          'seq is the signing time in milliseconds, or the last seq + 1; check the signer\'s clock',
          'seq_too_far_ahead',
        );
      }
      const lock = readDeployLock(db, p.service, p.destination);
      if (lock) {
        throw new ConflictError(
          `${name} is locked by deploy ${lock.deploy_id} (version ${lock.version}, key ${lock.key_id}) since ${lock.since}`,
          'wait for that deploy to finish, then push again',
          'locked',
        );
      }
      // A person's lock (`deploy lock acquire`); agent-made reverts do not come through here.
      const operatorLock = readOperatorLock(db, p.service, p.destination);
      if (operatorLock) throw deployBlockedError(operatorLock);
      const taken = routeClash(p);
      if (taken) {
        const where = taken.prefix === '/' ? `host ${taken.host}` : `host ${taken.host} under path prefix ${taken.prefix}`;
        throw new ConflictError(
          taken.owner === 'this release'
            ? `${where} is already served by ${taken.other} on this server`
            : `${where} is routed by both ${taken.other} and ${taken.owner}`,
          'give each service its own proxy host or path_prefix, or remove the other service first',
          'host_conflict',
        );
      }
      const clash = db.get<{ image: string }>(
        'SELECT image FROM releases WHERE service = ? AND destination = ? AND version = ? AND image <> ? LIMIT 1',
        p.service, p.destination, p.version, p.image,
      );
      if (clash) {
        throw new ConflictError(
          `version ${p.version} of ${name} was already released with image ${clash.image}`,
          'use a new version name for a different image',
          'version_conflict',
        );
      }

      const at = new Date(nowMs).toISOString();
      const trigger = p.trigger ?? 'push';
      const releaseId = db.run(
        `INSERT INTO releases (service, destination, version, seq, image, key_id, jws, payload, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        p.service, p.destination, p.version, p.seq, p.image, a.keyId, a.jws, JSON.stringify(p), at,
      ).lastInsertRowid;
      const deployId = db.run(
        `INSERT INTO deploys (release_id, service, destination, version, seq, image, state, error, key_id, created_at, updated_at, trigger)
         VALUES (?, ?, ?, ?, ?, ?, 'RECEIVED', NULL, ?, ?, ?, ?)`,
        releaseId, p.service, p.destination, p.version, p.seq, p.image, a.keyId, at, at, trigger,
      ).lastInsertRowid;
      insertAudit(db, nowMs, {
        keyId: a.keyId,
        action: 'release.accepted',
        service: p.service,
        destination: p.destination,
        detail: { deploy: deployId, version: p.version, seq: p.seq, image: p.image, trigger },
      });
      const event = insertEvent(db, nowMs, deployId, 'RECEIVED', `release ${p.version} (seq ${p.seq}) accepted from key ${a.keyId}`);
      db.run(
        `INSERT INTO service_seq (service, destination, seq) VALUES (?, ?, ?)
         ON CONFLICT (service, destination) DO UPDATE SET seq = excluded.seq`,
        p.service, p.destination, p.seq,
      );
      db.run('INSERT INTO locks (service, destination, deploy_id, since) VALUES (?, ?, ?, ?)', p.service, p.destination, deployId, at);
      const row = db.get<DeployRow>('SELECT * FROM deploys WHERE id = ?', deployId);
      if (!row) throw new Error('deploy row vanished inside its own transaction');
      return { record: toDeployRecord(row), event };
    });
    bus.emit('event', event);
    return record;
  }

  return {
    acceptRelease,
    getRelease(deployId: number): { payload: ManifestPayload; jws: string } | undefined {
      const r = db.get<{ jws: string; payload: string }>(
        'SELECT r.jws, r.payload FROM releases r JOIN deploys d ON d.release_id = r.id WHERE d.id = ?',
        deployId,
      );
      return r ? { payload: JSON.parse(r.payload) as ManifestPayload, jws: r.jws } : undefined;
    },
    seq,
    current(service: string, destination: string): CurrentRelease | null {
      return currentOf(readCurrentDeployId(db, service, destination));
    },
    setCurrent(service: string, destination: string, deployId: number): void {
      const d = db.get<DeployRow>(
        'SELECT * FROM deploys WHERE id = ? AND service = ? AND destination = ?',
        deployId, service, destination,
      );
      if (!d) throw new NotFoundError(`deploy ${deployId} is not a deploy of ${manifestSubject(service, destination)}`);
      db.run(
        'UPDATE service_seq SET current_deploy_id = ? WHERE service = ? AND destination = ?',
        deployId, service, destination,
      );
    },
    services(): ServiceSummary[] {
      return db
        .all<SeqRow>('SELECT * FROM service_seq ORDER BY service, destination')
        .map((r) => ({ name: r.service, destination: r.destination, seq: r.seq, current: currentOf(r.current_deploy_id) }));
    },
  };
}
