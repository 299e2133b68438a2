// Fixtures for agent API tests: a real store on a temp file, real keys, a fake
// engine and Docker (API logic only), and helpers that sign like the CLI does.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../agent/api/app.js';
import type { ApiDeps } from '../../agent/api/context.js';
import { createFailureLimiter, type FailureLimiter } from '../../agent/api/rate-limit.js';
import type { AccessoryDeps } from '../../agent/accessories/service.js';
import type { CronScheduler } from '../../agent/cron/scheduler.js';
import type { ContainerInfo, DockerPort } from '../../agent/docker.js';
import { createAppState } from '../../agent/engine/app-state.js';
import { createMaintenanceSwitch } from '../../agent/engine/maintenance.js';
import { createPauseSwitch } from '../../agent/engine/pause.js';
import { createRoutePublisher } from '../../agent/engine/route-publisher.js';
import { removeService } from '../../agent/engine/remove.js';
import type { AgentIdentity } from '../../agent/identity.js';
import type { Logger } from '../../agent/log.js';
import { openStore, type Scope, type Store } from '../../agent/store/index.js';
import type { JWK } from '../../shared/api-types.js';
import { signCompactJws } from '../../shared/jose.js';
import { generateIdentityKeys, generateOperatorKey, type OperatorKey } from '../../shared/keys.js';
import type { ManifestInput } from '../../shared/manifest.js';
import { signManifest } from '../../shared/manifest-signing.js';
import { signRequest } from '../../shared/request-token.js';
import { seal } from '../../shared/sealing.js';
import { MemoryRouter } from './memory-router.js';

export const DIGEST_IMAGE = `127.0.0.1:5000/demo@sha256:${'a'.repeat(64)}`;

export function b64(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

export async function makeIdentity(): Promise<AgentIdentity> {
  const k = await generateIdentityKeys();
  return {
    agentId: k.agentId,
    identityPrivateJwk: k.identity.privateJwk,
    identityPublicJwk: k.identity.publicJwk,
    sealingPrivateJwk: k.sealing.privateJwk,
    sealingPublicJwk: k.sealing.publicJwk,
    tlsCertPem: '',
    tlsKeyPem: '',
    tlsFingerprint: 'ab'.repeat(32),
  };
}

export interface RequestOptions {
  key?: OperatorKey;
  body?: string;
  /** Overrides the Authorization header entirely (null: none). */
  authorization?: string | null;
  /** What the token signs, when it should differ from the request. */
  sign?: { method?: string; path?: string; body?: string; now?: number; ttl?: number; aud?: string };
  headers?: Record<string, string>;
  /** The client's address as the node server would report it. */
  remoteAddress?: string;
}

export class ApiFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'berth-api-test-'));
  readonly dbFile = join(this.dir, 'berth.db');
  store: Store;
  app: ReturnType<typeof buildApp>;
  readonly runs: number[] = [];
  readonly logLines: string[] = [];
  containers: ContainerInfo[] = [];
  /** Container names whose removal the fake Docker refuses. */
  readonly failRemove = new Set<string>();
  /** Awaited inside each fake Docker stop: a test holds a removal mid-way with it. */
  onStop: ((id: string) => Promise<void>) | undefined;
  /** What the fake health probe answers (app start). */
  probeOk = true;
  /** Container ids the fake Docker started (app start). */
  readonly started: string[] = [];
  /** What the route publisher talks to (maintenance on/off). */
  readonly router = new MemoryRouter();
  private seq = 1;

  private constructor(
    readonly identity: AgentIdentity,
    readonly keyA: OperatorKey,
    readonly keyB: OperatorKey,
    readonly keyRead: OperatorKey,
    private readonly authFailuresPerMinute: number,
    private readonly webhooks: Pick<ApiDeps, 'webhookIntake' | 'webhooksPerMinute'> = {},
    /** Builds the cron scheduler the app gets, over the fixture's store (test/support/cron-fakes.ts); none: the routes answer 503. */
    private readonly cronFor?: (store: Store) => CronScheduler,
    /** The accessory operations' dependencies (a FakeDocker, a temporary state dir); none: those routes answer 503. */
    private readonly accessoriesFor?: (identity: AgentIdentity) => AccessoryDeps,
  ) {
    this.store = openStore(this.dbFile);
    this.app = this.build();
  }

  /** Most tests send many bad tokens on purpose: the limiter is loose unless a test asks. */
  static async create(
    opts: {
      authFailuresPerMinute?: number;
      webhooks?: Pick<ApiDeps, 'webhookIntake' | 'webhooksPerMinute'>;
      cron?: (store: Store) => CronScheduler;
      accessories?: (identity: AgentIdentity) => AccessoryDeps;
    } = {},
  ): Promise<ApiFixture> {
    const [identity, a, b, r] = await Promise.all([
      makeIdentity(),
      generateOperatorKey('alice@laptop'),
      generateOperatorKey('bob@laptop'),
      generateOperatorKey('reader@laptop'),
    ]);
    return new ApiFixture(identity, a, b, r, opts.authFailuresPerMinute ?? 10_000, opts.webhooks, opts.cron, opts.accessories);
  }

  private build(): ReturnType<typeof buildApp> {
    const log: Logger = {
      info: (m) => this.logLines.push(`info ${m}`),
      warn: (m) => this.logLines.push(`warn ${m}`),
      error: (m, f) => this.logLines.push(`error ${m} ${JSON.stringify(f ?? {})}`),
    };
    // One publisher, as in the agent: maintenance and removal share its queue and versions.
    const publisher = createRoutePublisher(this.store, this.router, log);
    const deps: ApiDeps = {
      store: this.store,
      identity: this.identity,
      log,
      engine: {
        run: async (id) => void this.runs.push(id),
        setMaintenance: createMaintenanceSwitch(this.store, publisher),
        setPause: createPauseSwitch(this.store, publisher),
        // The real removal logic, over the fake Docker (this.containers) and the in-memory router.
        removeService: (req) => removeService({ store: this.store, docker: this.fakeDocker(), publisher, log }, req),
      },
      docker: { listContainers: async () => this.containers },
      // The real stop/start logic, over the fake Docker and the in-memory router.
      appState: createAppState({
        store: this.store, docker: this.fakeDocker() as unknown as DockerPort, log, network: 'berth',
        probe: async () => (this.probeOk ? { ok: true, detail: 'HTTP 200' } : { ok: false, detail: 'HTTP 500' }),
      }, publisher),
      authLimiter: this.limiter(),
      ...this.webhooks,
      ...(this.cronFor ? { cron: this.cronFor(this.store) } : {}),
      ...(this.accessoriesFor ? { accessories: this.accessoriesFor(this.identity) } : {}),
    };
    return buildApp(deps);
  }

  private fakeDocker() {
    return {
      listContainers: async (labels: Record<string, string>) =>
        this.containers.filter((c) => Object.entries(labels).every(([k, v]) => c.labels[k] === v)),
      stop: async (id: string) => {
        await this.onStop?.(id);
        const c = this.containers.find((x) => x.id === id);
        if (c) Object.assign(c, { running: false, state: 'exited', exitCode: 0 });
      },
      inspect: async (idOrName: string) => this.containers.find((x) => x.id === idOrName || x.name === idOrName),
      start: async (id: string) => {
        const c = this.containers.find((x) => x.id === id);
        this.started.push(id);
        if (c) Object.assign(c, { running: true, state: 'running', exitCode: null, ip: '10.9.0.7' });
      },
      logTail: async () => '',
      remove: async (id: string) => {
        const c = this.containers.find((x) => x.id === id);
        if (c && this.failRemove.has(c.name)) throw new Error(`removal of container ${c.name} is already in progress`);
        this.containers = this.containers.filter((x) => x.id !== id);
      },
    };
  }


  private limiter(): FailureLimiter {
    return createFailureLimiter({ max: this.authFailuresPerMinute, windowMs: 60_000 });
  }

  /** Closes and reopens the database and rebuilds the app: an agent restart. */
  restart(): void {
    this.store.close();
    this.store = openStore(this.dbFile);
    this.app = this.build();
  }

  trust(key: OperatorKey, scope: Scope): void {
    this.store.keys.add({ kid: key.kid, jwk: key.publicJwk, comment: 'test', scopes: [scope] });
  }

  trustAll(): void {
    this.trust(this.keyA, 'deploy');
    this.trust(this.keyB, 'deploy');
    this.trust(this.keyRead, 'read');
  }

  async token(method: string, path: string, body: string, opts: RequestOptions = {}): Promise<string> {
    const key = opts.key ?? this.keyA;
    return signRequest({
      privateJwk: key.privateJwk,
      kid: key.kid,
      aud: opts.sign?.aud ?? this.identity.agentId,
      method: opts.sign?.method ?? method,
      pathAndQuery: opts.sign?.path ?? path,
      body: opts.sign?.body ?? body,
      ...(opts.sign?.now !== undefined ? { now: opts.sign.now } : {}),
      ...(opts.sign?.ttl !== undefined ? { ttl: opts.sign.ttl } : {}),
    });
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const body = opts.body ?? '';
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.authorization !== null) {
      headers.authorization = opts.authorization ?? `Berth ${await this.token(method, path, body, opts)}`;
    }
    if (body !== '') headers['content-type'] = 'application/json';
    const env = opts.remoteAddress ? { incoming: { socket: { remoteAddress: opts.remoteAddress } } } : undefined;
    return this.app.request(path, { method, headers, ...(body !== '' ? { body } : {}) }, env);
  }

  /** Seals `value` to this agent for env `name` of `role` of service demo (as the CLI does). */
  seal(value: string, name: string, where: { role?: string; service?: string; destination?: string } = {}): Promise<string> {
    const binding = { use: 'env' as const, service: where.service ?? 'demo', destination: where.destination ?? '', role: where.role ?? 'web', name };
    return seal(value, this.identity.sealingPublicJwk, binding);
  }

  /** A valid manifest payload for this agent; `over` replaces top-level fields. */
  manifestPayload(over: Partial<ManifestInput> & Record<string, unknown> = {}, key: OperatorKey = this.keyA): ManifestInput {
    const now = Math.floor(Date.now() / 1000);
    return {
      apiVersion: 'berth/v1',
      iss: key.kid,
      aud: this.identity.agentId,
      sub: 'demo',
      iat: now,
      exp: now + 300,
      jti: randomBytes(16).toString('base64url'),
      seq: this.seq++,
      service: 'demo',
      destination: '',
      version: `v${this.seq}`,
      image: DIGEST_IMAGE,
      roles: { web: { env: { clear: {}, secret: {} }, proxy: { hosts: ['demo.test'], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 5 } } } },
      ...over,
    } as ManifestInput;
  }

  async manifest(over: Partial<ManifestInput> & Record<string, unknown> = {}, key: OperatorKey = this.keyA): Promise<string> {
    return signManifest(this.manifestPayload(over, key), key.privateJwk, key.kid);
  }

  /** Signs without the schema check, to build manifests a real CLI would refuse to. */
  async rawManifest(payload: unknown, key: OperatorKey = this.keyA, typ = 'berth-release+jwt'): Promise<string> {
    return signCompactJws(new TextEncoder().encode(JSON.stringify(payload)), { typ, kid: key.kid }, key.privateJwk);
  }

  async postRelease(jws: string, opts: RequestOptions = {}): Promise<Response> {
    return this.request('POST', '/v1/releases', { body: JSON.stringify({ manifest: jws }), ...opts });
  }

  cleanup(): void {
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A JWS with the given header, signed with HMAC-SHA256 using `secret` (the alg-confusion attack). */
export function hs256Token(header: Record<string, unknown>, claims: unknown, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function publicKeyBytes(jwk: JWK): Buffer {
  return Buffer.from(String(jwk.x), 'base64url');
}

export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error?: { code?: string; message?: string } };
  return { status: res.status, code: body.error?.code ?? '', message: body.error?.message ?? '' };
}
