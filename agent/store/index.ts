// openStore: the agent's SQLite state behind the Store interface of docs/internals.md.
import { EventEmitter } from 'node:events';
import { createAppStateRepo } from './app-state-repo.js';
import { createAuditRepo } from './audit-repo.js';
import { createBackupsRepo } from './backups-repo.js';
import { createCertificatesRepo } from './certificates-repo.js';
import { createCronRepo } from './cron-repo.js';
import { openDatabase } from './db.js';
import { createDeploysRepo, readDeployOutcomes, readLatestDeploy } from './deploys-repo.js';
import { createDerivedRepo } from './derived-repo.js';
import { createKeysRepo, recordJti } from './keys-repo.js';
import { createOperatorLocksRepo } from './operator-locks-repo.js';
import { createPauseRepo } from './pause-repo.js';
import { createReleaseHistoryRepo } from './release-history-repo.js';
import { createMaintenanceRepo } from './maintenance-repo.js';
import { createReleasesRepo } from './releases-repo.js';
import { createRemovalRepo } from './removal-repo.js';
import { createRoutesRepo } from './routes-repo.js';
import type { Store } from './types.js';
import { createWebhookDeliveriesRepo } from './webhook-deliveries-repo.js';
import { createWebhookReleaseRepo } from './webhook-release-repo.js';

export type * from './types.js';
export { SCOPES, DEPLOY_STATES } from './types.js';

export interface StoreOptions {
  /** Clock in ms; tests move it to expire jti rows. */
  now?: () => number;
}

export function openStore(file: string, opts: StoreOptions = {}): Store {
  const now = opts.now ?? Date.now;
  const db = openDatabase(file);
  const bus = new EventEmitter();
  // Every SSE stream listens here; the default cap of 10 would warn under normal use.
  bus.setMaxListeners(0);
  const deploys = createDeploysRepo(db, now, bus);
  const releases = createReleasesRepo(db, now, bus);
  const history = createReleaseHistoryRepo(db);

  return {
    close: () => db.close(),
    dump() {
      const out: Record<string, unknown[]> = {};
      for (const table of db.tableNames()) out[table] = db.all(`SELECT * FROM "${table}" ORDER BY rowid`);
      return out;
    },
    keys: createKeysRepo(db, now),
    useJti(jti, exp) {
      db.transaction(() => recordJti(db, now(), jti, exp, 'request token'));
    },
    acceptRelease: releases.acceptRelease,
    getDeploy: deploys.getDeploy,
    getRelease: releases.getRelease,
    events: deploys.events,
    addEvent: deploys.addEvent,
    setState: deploys.setState,
    unfinishedDeploys: deploys.unfinishedDeploys,
    latestDeploy: (service, destination) => readLatestDeploy(db, service, destination),
    seq: releases.seq,
    current: releases.current,
    setCurrent: releases.setCurrent,
    services: releases.services,
    releaseHistory: history.releaseHistory,
    storedRelease: history.storedRelease,
    payloadsContaining: history.payloadsContaining,
    routes: createRoutesRepo(db),
    audit: createAuditRepo(db, now),
    maintenance: createMaintenanceRepo(db, now),
    pauses: createPauseRepo(db, now),
    appState: createAppStateRepo(db, now),
    operatorLocks: createOperatorLocksRepo(db, now),
    removal: createRemovalRepo(db, now),
    derived: createDerivedRepo(db, now, bus),
    webhooks: { ...createWebhookDeliveriesRepo(db, now, bus), ...createWebhookReleaseRepo(db, now, bus) },
    cron: createCronRepo(db, now, bus),
    backups: createBackupsRepo(db, now, bus),
    deployOutcomes: () => readDeployOutcomes(db),
    certificates: createCertificatesRepo(db),
    bus,
  };
}
