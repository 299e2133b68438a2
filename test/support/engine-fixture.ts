// A deploy engine wired to the real things: a test Docker engine, the test
// registry, a real router (in-process) and a real store in a temp state dir.
// Tests drive deploys through store.acceptRelease + engine.run, as the API does.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { guardrailPolicy, type GuardrailPolicy } from '../../agent/core/guardrails.js';
import { adoptsByDeployRecord, scopeToAgent } from '../../agent/agent-scope.js';
import { agentTag } from '../../agent/core/containers.js';
import { createDockerPort, type DockerPort } from '../../agent/docker.js';
import { guardBinds } from '../../agent/engine/bind-guard.js';
import { createEngine } from '../../agent/engine/deploy.js';
import type { Engine, EngineConfig, EngineDeps } from '../../agent/engine/types.js';
import { createLogger, type Logger } from '../../agent/log.js';
import { createRouterClient } from '../../agent/router/client.js';
import { startRouter, type RunningRouter } from '../../agent/router/router.js';
import { openStore, type Store } from '../../agent/store/index.js';
import type { DeployRecord, DeployState } from '../../shared/api-types.js';
import { generateIdentityKeys } from '../../shared/keys.js';
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { seal } from '../../shared/sealing.js';
import { sealUnbound } from './legacy-seal.js';
import type { JWK } from '../../shared/api-types.js';
import { containersByLabel, registryDigest, removeContainersByLabel, type ContainerInfo } from './docker-cli.js';
import { splitImageRef, testEnv, type TestEngine } from './env.js';
import { send, type Answer } from './router-fixtures.js';

const KID = 'k'.repeat(42) + 'A';
const AGENT = 'g'.repeat(42) + 'A';

export interface EngineFixture {
  engineHost: string;
  service: string;
  host: string;
  store: Store;
  docker: DockerPort;
  router: RunningRouter;
  engine: Engine;
  stateDir: string;
  sealingPublicJwk: JWK;
  /** What the engine unseals with; other agent parts that open secrets (exec) need it too. */
  sealingPrivateJwk: JWK;
  /**
   * A fresh engine over the same store, docker and router, as after an agent
   * restart; `wrap` lets a test put a faulty store, docker or router in between.
   */
  restartEngine(config?: Partial<EngineConfig>, wrap?: (deps: EngineDeps) => Partial<EngineDeps>): Engine;
  /** The agent id the fixture's engine is scoped to (agent/agent-scope.ts). */
  agentId: string;
  /** The container name a release's role gets from this fixture's agent. */
  containerName(version: string, role?: string): string;
  /** Digest reference (REGISTRY/REPO@sha256:…) of a test image tag. */
  digestOf(image: keyof ReturnType<typeof testEnv>['images']): Promise<string>;
  manifest(version: string, image: string, over?: Record<string, unknown>): ManifestPayload;
  /** Accepts the manifest (as POST /v1/releases does) and returns the new deploy. */
  accept(m: ManifestPayload): DeployRecord;
  deploy(m: ManifestPayload): Promise<DeployRecord>;
  get(path?: string): Promise<Answer>;
  containers(): Promise<ContainerInfo[]>;
  states(deployId: number): DeployState[];
  close(): Promise<void>;
}

export interface EngineFixtureOptions {
  /** The engine's logger (default: silent, or stderr with BERTH_TEST_ENGINE_LOG set). */
  log?: Logger;
  /** The agent's guardrails (default: the default policy). */
  guardrails?: GuardrailPolicy;
}

export async function startEngineFixture(
  name: string,
  engine: TestEngine = testEnv().engines[0]!,
  options: EngineFixtureOptions = {},
): Promise<EngineFixture> {
  const env = testEnv();
  const stateDir = await mkdtemp(join(tmpdir(), 'berth-engine-'));
  const service = `${name}-${randomBytes(3).toString('hex')}`;
  const host = `${service}.test`;
  const store = openStore(join(stateDir, 'berth.db'));
  const router = await startRouter(
    {
      stateDir,
      httpListen: { host: '127.0.0.1', port: 0 },
      socketPath: join(stateDir, 'router.sock'),
      snapshotPath: join(stateDir, 'routes.json'),
      shutdownTimeoutMs: 1000,
    },
    { log: () => undefined },
  );
  const keys = await generateIdentityKeys();
  // As the agent's own is (agent/main.ts): scoped to the agent, every create and start judged by the bind guard.
  // As agent/config.ts agentGuardrails: the state dir protected, its accessories/ the agent's own to mount.
  const guardrails = options.guardrails ?? guardrailPolicy({ protect: [stateDir], accessoryRoot: join(stateDir, 'accessories') });
  const docker = scopeToAgent(guardBinds(createDockerPort(engine.host, 'berth'), guardrails), { agentId: AGENT, adoptsLegacy: adoptsByDeployRecord(store) });
  const baseConfig: EngineConfig = {
    stateDir,
    network: 'berth',
    networkSubnet: engine.subnet,
    hostname: 'test-host-1',
    sealingPrivateJwk: keys.sealing.privateJwk,
    guardrails,
  };
  const log: Logger = options.log ?? (process.env.BERTH_TEST_ENGINE_LOG ? createLogger('engine') : { info() {}, warn() {}, error() {} });
  const make = (over: Partial<EngineConfig> = {}, wrap?: (deps: EngineDeps) => Partial<EngineDeps>) => {
    const deps: EngineDeps = { store, docker, router: createRouterClient(router.socketPath), config: { ...baseConfig, ...over }, log };
    return createEngine({ ...deps, ...wrap?.(deps) });
  };
  let seq = 0;

  const fixture: EngineFixture = {
    engineHost: engine.host,
    service,
    host,
    store,
    docker,
    router,
    engine: make(),
    stateDir,
    sealingPublicJwk: keys.sealing.publicJwk,
    sealingPrivateJwk: keys.sealing.privateJwk,
    restartEngine: make,
    agentId: AGENT,
    containerName: (version, role = 'web') => `${service}-${role}-${version}-${agentTag(AGENT)}`,
    async digestOf(image) {
      const { registry, repo, tag } = splitImageRef(env.images[image]);
      const digest = await registryDigest(registry, repo, tag);
      if (!digest) throw new Error(`test image ${image} is not in the registry`);
      return `${registry}/${repo}@${digest}`;
    },
    manifest(version, image, over = {}) {
      const now = Math.floor(Date.now() / 1000);
      seq += 1;
      return parseManifestPayload({
        apiVersion: 'berth/v1',
        iss: KID,
        aud: AGENT,
        sub: service,
        iat: now,
        exp: now + 300,
        jti: randomBytes(16).toString('base64url'),
        seq,
        service,
        destination: '',
        version,
        image,
        roles: { web: { proxy: { hosts: [host], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 2 } } } },
        deploy_timeout: 20,
        drain_timeout: 5,
        stop_timeout: 1,
        ...over,
      });
    },
    accept(m) {
      return store.acceptRelease({ payload: m, jws: 'test-jws', keyId: KID });
    },
    async deploy(m) {
      const d = fixture.accept(m);
      await fixture.engine.run(d.id);
      return store.getDeploy(d.id)!;
    },
    get: (path = '/') => send(router.http.port, host, path),
    containers: () => containersByLabel(engine.host, `berth.service=${service}`),
    states: (id) => store.events(id).map((e) => e.state),
    async close() {
      await removeContainersByLabel(engine.host, `berth.service=${service}`).catch(() => undefined);
      await router.stop().catch(() => undefined);
      store.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/**
 * Seals a secret to the fixture agent's key, as the CLI does: for env `name`
 * of `role` (web by default) or for the registry `server`'s password, of the
 * fixture's service. Without `use`, unbound, as CLIs before sealing.bound.v1 did.
 */
export function sealFor(f: EngineFixture, value: string, use?: { name: string; role?: string } | { server: string }): Promise<string> {
  if (!use) return sealUnbound(value, f.sealingPublicJwk);
  const where = { service: f.service, destination: '' };
  return 'server' in use
    ? seal(value, f.sealingPublicJwk, { use: 'registry-password', ...where, server: use.server })
    : seal(value, f.sealingPublicJwk, { use: 'env', ...where, role: use.role ?? 'web', name: use.name });
}
