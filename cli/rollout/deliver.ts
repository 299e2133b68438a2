// What push and rollback share: per host, connect (pinned), check the agent's
// features, post a freshly signed manifest (waiting for the service lock when
// asked to), follow the deploy to its end; and the rollout over all hosts with
// the primary first, boot.limit batches, the reporter and the closing error.

import type { DeployRecord, IdentityClaims } from '../../shared/api-types.js';
import { BerthError, UpstreamError, UserError } from '../../shared/errors.js';
import { signManifest } from '../../shared/manifest-signing.js';
import type { ManifestInput } from '../../shared/manifest.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import type { AgentClient } from '../agent-api/client.js';
import { postRelease as postManifest, readServiceSeq } from '../agent-api/endpoints.js';
import { followDeploy } from '../agent-api/follow-deploy.js';
import { readKnownAgents, type KnownAgent } from '../agent-api/known-agents.js';
import { checkPinnedIdentity, connectPinned, readIdentity } from '../agent-api/pinning.js';
import type { RunContext } from '../command.js';
import type { Plan } from '../config/plan.js';
import type { DeployConfig } from '../config/schema.js';
import type { OperatorKeyFile } from '../keys.js';
import { nextSeq, rolesOnHost } from '../manifest-builder.js';
import type { HostResult, SummaryWords } from '../output/deploy.js';
import { createPushReporter, type PushReporter } from '../output/push-reporter.js';
import { MAX_PARALLEL_SERVERS, failedOutcome, hostsFailure, type HostOutcome } from './hosts.js';
import { planRollout, rolloutOrder } from './plan.js';
import { runRollout } from './rollout.js';

const LOCK_RETRY_MS = 2000;
const MAX_LOCK_WAIT_S = 86_400;

/** What a host's delivery came to (also on failure: how far it got). */
export interface Delivered {
  roles: string[];
  release: string;
  /** The deploy's final state; ERROR when it never got one. */
  state: string;
  seconds: number;
  deployId?: number;
}

export interface HostConnection {
  host: string;
  client: AgentClient;
  pin: KnownAgent;
  identity: IdentityClaims;
}

export interface AttemptFacts {
  seq: number;
  nowSeconds: number;
}

/** How one kind of release (a push, a rollback) is made for one host. */
export interface ReleaseMaker {
  /** Features the agent must list, given what it lists (some are needed only for some releases). */
  requiredFeatures: string[];
  /** Features only some hosts' releases need (HOST[:PORT] as in servers:), e.g. backups.v1 where backups are taken. */
  hostFeatures?(host: string): string[];
  /** Once per host before the first attempt; returns the payload of one attempt (fresh seq, iat, exp, jti). */
  prepare(conn: HostConnection): Promise<(facts: AttemptFacts) => Promise<ManifestInput>>;
}

export interface Delivery {
  appDir: string;
  key: OperatorKeyFile;
  trustNew: boolean;
  service: string;
  destination: string;
  version: string;
  lockWaitSeconds: number;
  reporter: PushReporter;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** --lock-wait SECONDS (default 0: a held lock fails the host at once). */
export function lockWaitSeconds(text: string | undefined): number {
  if (text === undefined) return 0;
  const seconds = /^[0-9]{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(seconds >= 0 && seconds <= MAX_LOCK_WAIT_S)) {
    throw new UserError(`--lock-wait must be a number of seconds from 0 to ${MAX_LOCK_WAIT_S}, got "${text.slice(0, 40)}"`, undefined, 'usage');
  }
  return seconds;
}

function isLocked(err: unknown): err is BerthError {
  return err instanceof BerthError && err.status === 409 && err.code === 'locked';
}

/** The agent's message without the `HOST: ` prefix the client adds. */
function withoutLabel(message: string, host: string): string {
  return message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
}

type Connecting = Promise<HostConnection & { discovered: boolean }>;

async function connectHost(d: Pick<Delivery, 'appDir' | 'key' | 'trustNew'>, address: ServerAddress, signal?: AbortSignal): Connecting {
  const host = formatServerAddress(address);
  const { client, pin, discovered } = await connectPinned({ appDir: d.appDir, address, key: d.key, trustNew: d.trustNew, ...(signal ? { signal } : {}) });
  const identity = await readIdentity(client, pin.tls_fingerprint);
  checkPinnedIdentity(host, pin, identity);
  return { host, client, pin, identity, discovered: discovered !== undefined };
}

/**
 * Connections to the first stage's hosts opened while `ready` runs (the registry
 * lookup of a push). Only hosts already pinned: a --trust-new server is pinned
 * only once the push is known to go ahead. A failure is kept for the host's
 * delivery to report, as if it had connected then. Aborting `signal` ends
 * them (when the push stops before delivering), so that no handshake in
 * flight keeps the process alive.
 */
async function connectEarly(d: Pick<Delivery, 'appDir' | 'key'>, hosts: Array<{ host: string; address: ServerAddress }>, signal: AbortSignal): Promise<Map<string, Connecting>> {
  const early = new Map<string, Connecting>();
  let pinned: Record<string, unknown>;
  try {
    pinned = await readKnownAgents(d.appDir);
  } catch {
    return early; // the delivery reads it again and reports what is wrong with it
  }
  for (const { host, address } of hosts) {
    if (!pinned[host]) continue;
    const connecting = connectHost({ ...d, trustNew: false }, address, signal);
    connecting.catch(() => undefined);
    early.set(host, connecting);
  }
  return early;
}

function isSeqBehind(err: unknown): err is BerthError {
  return err instanceof BerthError && err.status === 409 && err.code === 'seq_not_increasing';
}

/**
 * Posts a manifest made fresh for every attempt; a held lock is retried until the --lock-wait deadline.
 * The first attempt is signed with the seq the clock gives (nextSeq(0, now)), which is above the
 * agent's unless its last seq came from a clock ahead of this one or from last + 1 steps: then the
 * agent answers seq_not_increasing and the attempt is made once more with the seq read from it.
 */
async function postRelease(d: Delivery, conn: HostConnection, make: (facts: AttemptFacts) => Promise<ManifestInput>): Promise<DeployRecord> {
  const now = d.now ?? Date.now;
  const sleep = d.sleep ?? defaultSleep;
  const deadline = now() + d.lockWaitSeconds * 1000;
  const ref = { service: d.service, destination: d.destination };
  let told = false;
  // The agent's seq as last read; undefined until an attempt needs it.
  let current: number | undefined;
  for (;;) {
    const payload = await make({ seq: nextSeq(current ?? 0, now()), nowSeconds: Math.floor(now() / 1000) });
    const manifest = await signManifest(payload, d.key.privateJwk, d.key.kid);
    try {
      return await postManifest(conn.client, manifest);
    } catch (err) {
      if (isSeqBehind(err) && current === undefined) {
        current = await readServiceSeq(conn.client, ref);
        continue;
      }
      const left = deadline - now();
      if (!isLocked(err) || left <= 0) throw err;
      if (!told) d.reporter.update({ host: conn.host, state: 'LOCKED', message: `waiting for the lock on ${conn.host}: ${withoutLabel(err.message, conn.host)}` });
      told = true;
      await sleep(Math.min(LOCK_RETRY_MS, left));
      // The deploy that held the lock may have raised the seq.
      current = await readServiceSeq(conn.client, ref);
    }
  }
}

async function deliverToHost(d: Delivery, address: ServerAddress, roles: string[], maker: ReleaseMaker, early: Connecting | undefined): Promise<HostOutcome<Delivered>> {
  const host = formatServerAddress(address);
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  let deployId: number | undefined;
  try {
    const conn = await (early ?? connectHost(d, address));
    if (conn.discovered) d.reporter.update({ host, state: 'PINNED', message: `new server: agent ${conn.pin.agent_id}, certificate SHA256 ${conn.pin.tls_fingerprint}` });
    const missing = [...maker.requiredFeatures, ...(maker.hostFeatures?.(host) ?? [])].filter((f) => !conn.identity.features.includes(f));
    if (missing.length) throw new UpstreamError(`the agent on ${host} (version ${conn.identity.version}) does not support ${missing.join(', ')}`, `upgrade the agent on ${host}`, 'agent_outdated');
    const make = await maker.prepare(conn);
    const accepted = await postRelease(d, conn, make);
    deployId = accepted.id;
    d.reporter.update({ host, deployId, state: accepted.state, message: `release ${d.version} accepted as deploy #${accepted.id}` });
    const record = await followDeploy(conn.client, accepted.id, {
      onEvent: (e) => d.reporter.update({ host, deployId, state: e.state, message: e.message, at: e.at, ...(e.progress !== undefined ? { progress: e.progress } : {}) }),
    });
    const value: Delivered = { roles, release: d.version, state: record.state, seconds: seconds(), deployId };
    if (record.state === 'DONE') return { host, ok: true, value };
    return { host, ok: false, error: record.error ?? `deploy ended in ${record.state}`, cause: undefined, value };
  } catch (err) {
    const value: Delivered = { roles, release: d.version, state: 'ERROR', seconds: seconds(), ...(deployId !== undefined ? { deployId } : {}) };
    return { ...failedOutcome<Delivered>(host, err), value };
  }
}

/** The reporter's row for a host's outcome (a skipped host carries no delivery of its own). */
function resultOf(o: HostOutcome<Delivered>, roles: string[], release: string): HostResult {
  const value = o.value ?? { roles, release, state: 'SKIPPED', seconds: 0 };
  const { deployId, ...rest } = value;
  return { host: o.host, ...rest, ok: o.ok, ...(deployId !== undefined ? { deployId } : {}), ...(o.ok ? {} : { error: o.error }) };
}

export interface RolloutRequest {
  config: DeployConfig;
  plan: Plan;
  appDir: string;
  key: OperatorKeyFile;
  version: string;
  trustNew: boolean;
  /** --lock-wait, parsed by the command before any server is contacted. */
  lockWaitSeconds: number;
  maker: ReleaseMaker;
  words: SummaryWords & { verb: string };
  redact?: (text: string) => string;
  /**
   * Work to finish before anything is posted (a push's registry lookup); the
   * first hosts are connected to meanwhile. A throw ends the rollout before the
   * reporter starts, as if it had been thrown before rollOut was called.
   */
  ready?: () => Promise<void>;
}

/** The hosts that run a role, with their roles, in deploy.yml order. */
export function hostsWithRoles(config: DeployConfig, plan: Plan): Array<{ address: ServerAddress; host: string; roles: string[] }> {
  return config.servers
    .map((address) => {
      const host = formatServerAddress(address);
      return { address, host, roles: rolesOnHost(plan, host).map((r) => r.role) };
    })
    .filter((h) => h.roles.length > 0);
}

/** The primary role's first host (Kamal's primary_host). */
export function primaryHostOf(config: DeployConfig, plan: Plan): string | undefined {
  return plan.roles.find((r) => r.role === config.primary_role)?.hosts[0]?.host;
}

/** Delivers to every host as the rollout plan orders them; throws naming the failed and skipped hosts. */
export async function rollOut(ctx: RunContext, r: RolloutRequest): Promise<HostResult[]> {
  const targets = hostsWithRoles(r.config, r.plan);
  const byHost = new Map(targets.map((t) => [t.host, t]));
  const rollout = planRollout(targets.map((t) => t.host), primaryHostOf(r.config, r.plan), r.config.boot);
  const order = rolloutOrder(rollout);
  let early = new Map<string, Connecting>();
  if (r.ready) {
    const first = (rollout.stages[0]?.hosts ?? []).slice(0, MAX_PARALLEL_SERVERS).map((h) => byHost.get(h)!);
    const stop = new AbortController();
    early = await connectEarly({ appDir: r.appDir, key: r.key }, first, stop.signal);
    try {
      await r.ready();
    } catch (err) {
      stop.abort();
      throw err;
    }
  }
  const reporter = createPushReporter(ctx.printer, ctx.style, ctx.json ? 'json' : ctx.live ? 'live' : 'plain', order, r.words);
  const delivery: Delivery = {
    appDir: r.appDir,
    key: r.key,
    trustNew: r.trustNew,
    service: r.config.service,
    destination: r.config.destination,
    version: r.version,
    lockWaitSeconds: r.lockWaitSeconds,
    reporter,
  };
  const rolesOf = (host: string) => byHost.get(host)?.roles ?? [];
  const { outcomes, skipped } = await runRollout<Delivered>(rollout, {
    deliver: (host) => deliverToHost(delivery, byHost.get(host)!.address, rolesOf(host), r.maker, early.get(host)),
    onOutcome: (o) => reporter.hostDone(resultOf(o, rolesOf(o.host), r.version)),
    sleep: defaultSleep,
    onWait: (seconds, next) => reporter.note(`waiting ${seconds}s before the next batch (${next.join(', ')})`, next),
  });
  const results = outcomes.map((o) => resultOf(o, rolesOf(o.host), r.version));
  reporter.finish(results);
  const failure = hostsFailure(outcomes, { verb: r.words.verb, skipped, ...(r.redact ? { redact: r.redact } : {}) });
  if (failure) throw failure;
  return results;
}
