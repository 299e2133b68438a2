// The phases of a deploy, in the order run-deploy.ts runs them. Each does its
// work over the run context and returns the message of the state it leads to;
// the phase runner records that state. Events in between go under the state the
// deploy is in while the phase works.
import { UserError } from '../../shared/errors.js';
import { isDigestReference, parseManifestPayload } from '../../shared/manifest.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { checkRelease } from '../core/guardrails.js';
import { plan, type Step } from '../core/plan.js';
import { routeFor } from '../core/routes.js';
import { routeTargets } from '../../shared/routes.js';
import { endStopsForSwitch } from './app-state.js';
import { bridgeAssets } from './assets.js';
import { drainOld, pruneOld } from './finish.js';
import { runningAddress, waitHttpHealthy, waitStillRunning } from './health.js';
import { aliveCheck, launch, type Launched } from './launch.js';
import { observe } from './observe.js';
import { freePublishedPorts } from './publish-handover.js';
import { describeLogin, registryAuth } from './registry-auth.js';
import { openRoleSecrets, roleFingerprints } from './role-secrets.js';
import { event, launchedRole, manifestOf, stepsOf, type RunContext } from './run-context.js';

/** The stored manifest, checked against its deploy record. */
export async function verify(ctx: RunContext): Promise<string> {
  const payload: unknown = ctx.deps.store.getRelease(ctx.deployId)?.payload;
  if (payload === undefined) throw new UserError('the release manifest of this deploy is missing from the store');
  const m = parseManifestPayload(payload);
  if (!isDigestReference(m.image)) throw new UserError('image must be pinned by digest');
  const d = ctx.deploy;
  if (m.service !== d.service || m.destination !== d.destination || m.version !== d.version) {
    throw new UserError('the stored manifest does not match its deploy record');
  }
  ctx.manifest = m;
  return `manifest verified: ${m.service} ${m.version} (${m.image})`;
}

/** Guardrails, secrets and the plan against what Docker and the route table say now. */
export async function planSteps(ctx: RunContext): Promise<void> {
  const { config, docker, store } = ctx.deps;
  const m = manifestOf(ctx);
  // Accepted under the same rules, but the agent may have restarted with narrower ones since.
  checkRelease(m, ctx.policy);
  ctx.secrets = await openRoleSecrets(m, config.sealingPrivateJwk, ctx.deps.unseal ?? defaultUnseal);
  ctx.fingerprints = roleFingerprints(m, ctx.secrets, config.sealingPrivateJwk);
  ctx.steps = plan(m, await observe(docker, store, m), ctx.fingerprints);
}

export async function pull(ctx: RunContext): Promise<string> {
  const { docker, config } = ctx.deps;
  const m = manifestOf(ctx);
  const pulls = stepsOf(ctx, 'PULLED');
  for (const step of pulls) {
    const auth = await registryAuth(m, config.sealingPrivateJwk, ctx.deps.unseal ?? defaultUnseal);
    event(ctx, 'VERIFIED', `pulling ${step.image}${describeLogin(auth)}`, 0);
    let reported = -1;
    await docker.pull(step.image, {
      ...(auth ? { auth } : {}),
      onProgress: (percent, message) => {
        // Every 5 % is plenty for a progress bar and keeps the event table small.
        if (percent < 100 && percent - reported < 5) return;
        reported = percent;
        event(ctx, 'VERIFIED', `pulling: ${message}`, percent);
      },
    });
  }
  return pulls.length > 0 ? `pulled ${m.image}` : `image ${m.image} already present`;
}

/** Bridged assets (agent/engine/assets.ts) are in place before any container that mounts them is created. */
export async function assets(ctx: RunContext): Promise<void> {
  const root = await bridgeAssets(ctx.deps, manifestOf(ctx), (message) => event(ctx, 'PULLED', message));
  if (root !== undefined) ctx.assetRoot = root;
}

export async function launchAll(ctx: RunContext): Promise<string> {
  const { docker, config } = ctx.deps;
  await docker.ensureNetwork(config.network, config.networkSubnet);
  for (const step of stepsOf(ctx, 'STARTED')) {
    await freePublishedPorts(ctx, step);
    const l = await launch(step, {
      docker,
      manifest: manifestOf(ctx),
      deployId: ctx.deployId,
      hostname: config.hostname,
      network: config.network,
      secrets: ctx.secrets,
      fingerprints: ctx.fingerprints,
      policy: ctx.policy,
      ...(ctx.assetRoot !== undefined ? { assetRoot: ctx.assetRoot } : {}),
      onCreated: (c) => ctx.pending.push(c),
    });
    ctx.launched.set(l.role, [...(ctx.launched.get(l.role) ?? []), l]);
    const how = { created: 'created and started', started: 'started retained container', reused: 'reusing running container' }[l.origin];
    event(ctx, 'STARTED', `${step.role}: ${how} ${l.name}${l.info.ip ? ` at ${l.info.ip}` : ''}`);
  }
  return `started ${[...ctx.launched.values()].flat().map((l) => l.name).join(', ')}`;
}

export async function waitHealthy(ctx: RunContext): Promise<string> {
  for (const step of stepsOf(ctx, 'HEALTHY')) {
    // A role's replicas come up side by side: N of them take one health wait, not N.
    // All are waited for, so none still probes once a failure reverted the deploy.
    const results = await Promise.allSettled(launchedRole(ctx, step.role).map((l) => waitContainerHealthy(ctx, step, l)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    ctx.launched.set(step.role, results.map((r) => (r as PromiseFulfilledResult<Launched>).value));
  }
  return `${manifestOf(ctx).version} is healthy`;
}

/** One container of a role until its check passes; returns it with the address it has now. */
async function waitContainerHealthy(ctx: RunContext, step: Extract<Step, { phase: 'HEALTHY' }>, l: Launched): Promise<Launched> {
  const { docker, config } = ctx.deps;
  const checkAlive = aliveCheck(docker, l.id, l.name);
  // Several replicas name the container; one keeps the messages as they always were.
  const who = launchedRole(ctx, step.role).length > 1 ? `${step.role} (${l.name})` : step.role;
  if (step.kind === 'running-check') {
    await waitStillRunning(step.delaySeconds, checkAlive);
    event(ctx, 'STARTED', `${who}: still running after ${step.delaySeconds}s`);
    return l;
  }
  // Not the address seen at launch: a container that died since has none
  // (then say why it died), and one Docker restarted may have another.
  const ip = await runningAddress(() => docker.inspect(l.id), checkAlive, { name: l.name, network: config.network });
  await waitHttpHealthy({
    host: ip,
    port: step.port,
    path: step.path,
    intervalSeconds: step.intervalSeconds,
    requestTimeoutSeconds: step.requestTimeoutSeconds,
    timeoutSeconds: step.timeoutSeconds,
    checkAlive,
    ...(ctx.deps.probe ? { probe: ctx.deps.probe } : {}),
    onAttempt: (r, n) => {
      if (!r.ok && (n === 1 || n % 10 === 0)) event(ctx, 'STARTED', `${who}: waiting for GET ${step.path} to answer 2xx (${r.detail})`);
    },
  });
  event(ctx, 'STARTED', `${who}: GET ${step.path} on port ${step.port} answered 2xx`);
  return { ...l, info: { ...l.info, ip } };
}

/** Points the routes at the new containers; on failure the router serves the old table again. */
export async function switchRoutes(ctx: RunContext): Promise<string> {
  const { store, log } = ctx.deps;
  const m = manifestOf(ctx);
  const routeSteps = stepsOf(ctx, 'SWITCHED');
  const newTargets = new Map<string, string>();
  // A release going live ends `deploy app stop`: its routes must reach the router.
  const stops = endStopsForSwitch(store, m.service, m.destination);
  for (const step of routeSteps) {
    const route = routeFor(m, step.role, launchedRole(ctx, step.role).map((l) => l.info.ip ?? ''));
    if (!route) continue;
    newTargets.set(step.role, routeTargets(route).join(' '));
    store.routes.set(step.service, step.destination, route);
  }
  try {
    if (routeSteps.length > 0) await ctx.publisher.publish();
  } catch (err) {
    // The router may have applied the switch even though its answer never came
    // (a timeout): it must serve the old table again before the new container goes.
    for (const step of routeSteps) store.routes.set(step.service, step.destination, step.previous);
    stops.restore();
    try {
      await ctx.publisher.publish();
    } catch (restoreErr) {
      for (const c of ctx.pending) ctx.keep.add(c.id);
      log.warn('could not restore the old routes on the router; leaving the new containers in place', { deploy: ctx.deployId, error: restoreErr });
    }
    throw err;
  }
  store.setCurrent(m.service, m.destination, ctx.deployId);
  stops.done({ id: ctx.deployId, version: m.version, keyId: ctx.deploy.key_id });
  return routeSteps.length > 0
    ? `router switched: ${routeSteps.map((s) => `${s.service} -> ${newTargets.get(s.role)}`).join(', ')}`
    : `${m.version} is current (no proxied role)`;
}

/** Past the switch: trouble with the old containers is only reported. */
export const drain = (ctx: RunContext): Promise<string> => drainOld(ctx.deps, ctx.deployId, ctx.steps);

export const finish = (ctx: RunContext): Promise<string> => pruneOld(ctx.deps, ctx.deployId, manifestOf(ctx), ctx.steps);

