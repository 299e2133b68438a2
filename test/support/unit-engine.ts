// The deploy engine over its ports with nothing real behind them but the
// store: a FakeDocker, the in-memory router and SQLite in memory. For unit
// tests of the state machine; test/support/engine-fixture.ts is the real one.
import { routeTargets } from '../../shared/routes.js';
import { randomBytes } from 'node:crypto';
import { containerName } from '../../agent/core/containers.js';
import { createEngine } from '../../agent/engine/deploy.js';
import type { DeployPhase, Engine, EngineConfig, EngineDeps } from '../../agent/engine/types.js';
import { openStore, type Store } from '../../agent/store/index.js';
import type { DeployRecord, DeployState, JWK } from '../../shared/api-types.js';
import { generateIdentityKeys } from '../../shared/keys.js';
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { FakeDocker } from './fake-docker.js';
import { MemoryRouter } from './memory-router.js';

const KID = 'k'.repeat(42) + 'A';
const AGENT = 'g'.repeat(42) + 'A';
export const HOST = 'app.test';
export const IMAGE = `registry.test/app@sha256:${'a'.repeat(64)}`;

let sealingKey: Promise<JWK> | undefined;

export interface UnitEngine {
  store: Store;
  docker: FakeDocker;
  router: MemoryRouter;
  engine: Engine;
  /** Phases in the order the engine reported them through onPhase. */
  phases: DeployPhase[];
  /** A new engine over the same store, Docker and router, as after an agent restart. */
  restart(wrap?: (deps: EngineDeps) => Partial<EngineDeps>): Engine;
  manifest(version: string, over?: Record<string, unknown>): ManifestPayload;
  accept(m: ManifestPayload): DeployRecord;
  deploy(m: ManifestPayload): Promise<DeployRecord>;
  /** The states a deploy was recorded in, in order, each once. */
  states(deployId: number): DeployState[];
  /** Where the router sends the app's host now. */
  routedTo(): string | undefined;
  /** Container names by state: what `docker ps -a` would show. */
  containers(): { running: string[]; stopped: string[] };
  containerName(version: string, role?: string): string;
}

export async function startUnitEngine(
  config: Partial<EngineConfig> = {},
  wrap?: (deps: EngineDeps) => Partial<EngineDeps>,
): Promise<UnitEngine> {
  sealingKey ??= generateIdentityKeys().then((k) => k.sealing.privateJwk);
  const store = openStore(':memory:');
  const docker = new FakeDocker();
  const router = new MemoryRouter();
  const phases: DeployPhase[] = [];
  const base: EngineDeps = {
    store,
    docker,
    router,
    config: { stateDir: '/nonexistent', network: 'berth', networkSubnet: '10.77.0.0/16', hostname: 'test-host', sealingPrivateJwk: await sealingKey, ...config },
    log: { info() {}, warn() {}, error() {} },
    probe: docker.probe,
    onPhase: (phase) => phases.push(phase),
  };
  const make = (w = wrap) => createEngine({ ...base, ...w?.(base) });
  let seq = 0;
  const u: UnitEngine = {
    store,
    docker,
    router,
    engine: make(),
    phases,
    restart: make,
    manifest(version, over = {}) {
      const now = Math.floor(Date.now() / 1000);
      seq += 1;
      return parseManifestPayload({
        apiVersion: 'berth/v1',
        iss: KID,
        aud: AGENT,
        sub: 'app',
        iat: now,
        exp: now + 300,
        jti: randomBytes(16).toString('base64url'),
        seq,
        service: 'app',
        destination: '',
        version,
        image: IMAGE,
        roles: { web: { proxy: { hosts: [HOST], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 1 } } } },
        deploy_timeout: 1,
        drain_timeout: 1,
        stop_timeout: 1,
        ...over,
      });
    },
    accept: (m) => store.acceptRelease({ payload: m, jws: 'test-jws', keyId: KID }),
    async deploy(m) {
      const d = u.accept(m);
      await u.engine.run(d.id);
      return store.getDeploy(d.id)!;
    },
    states: (id) => store.events(id).map((e) => e.state).filter((s, i, all) => s !== all[i - 1]),
    routedTo: () => {
      const route = router.live.routes.find((r) => r.hosts.includes(HOST));
      return route ? routeTargets(route).join(' ') : undefined;
    },
    containers() {
      const all = [...docker.containers.values()];
      return { running: all.filter((c) => c.running).map((c) => c.name).sort(), stopped: all.filter((c) => !c.running).map((c) => c.name).sort() };
    },
    containerName: (version, role = 'web') => containerName({ service: 'app', destination: '', version, aud: AGENT }, role),
  };
  return u;
}
