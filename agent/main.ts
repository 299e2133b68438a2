#!/usr/bin/env node
// berth-agent: the composition root. Parses the command, wires config -> store ->
// docker -> router client -> engine -> API; its exit and its command-line
// errors go through command-exit.ts (shared with the router's bundle).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../shared/errors.js';
import { exitWith } from './command-exit.js';
import { adoptsByDeployRecord, scopeToAgent } from './agent-scope.js';
import { buildApp } from './api/app.js';
import { startApiServer, startWebhookSocket } from './api/server.js';
import { webhookOnly } from './api/webhook-ingress.js';
import { registryCredentials } from './webhooks/credentials.js';
import { createWebhookIntake } from './webhooks/intake.js';
import { startPoller } from './webhooks/poller.js';
import { createWebSocketSupport } from './api/websocket.js';
import { parseAgentArgs, type AgentCommand } from './cli.js';
import { agentGuardrails, agentPaths, loadAgentConfig, loadStateDir, type AgentConfig, type AgentFlags } from './config.js';
import { createDockerPort, type DockerPort } from './docker.js';
import { APP_KIND, LABEL } from './core/containers.js';
import type { GuardrailPolicy } from './core/guardrails.js';
import { disarmUnsafeRestarts, guardBinds } from './engine/bind-guard.js';
import { createEngine, startReplicaWatch, startRouteSync } from './engine/deploy.js';
import { initIdentity, loadIdentity } from './identity.js';
import { pauseAt } from './test-seams/pause-at.js';
import { createLogger, type Logger } from './log.js';
import { createAgentMetrics, startAgentMetrics } from './metrics.js';
import { removeExecOrphans } from './ops/exec.js';
import { createCronRunner } from './cron/runner.js';
import { removeServiceAccessories } from './accessories/service.js';
import { createCronScheduler, type CronScheduler } from './cron/scheduler.js';
import { postNotify, sendFailureNotice } from './cron/notify.js';
import { createBackupService, type BackupService } from './backups/service.js';
import { routerMain } from './router/main.js';
import { track, trackedEngine } from './running-work.js';
import { createRouterClient } from './router/client.js';
import { agentStatus, renderStatus } from './status.js';
import { openStore, type Store } from './store/index.js';
import { renderTrustList, trustAdd, trustRemove } from './trust.js';
import { tlsFiles } from './tls/files.js';
import { createTlsService, type TlsService } from './tls/service.js';

const ROUTE_SYNC_INTERVAL_MS = 5_000;
// A stopped replica's address may hold requests until the response timeout: it leaves its route within a second.
const REPLICA_WATCH_INTERVAL_MS = 1_000;
/** How long an accessory gets to stop when its service is removed (a database flushing): Kamal's default stop wait. */
const ACCESSORY_STOP_TIMEOUT_S = 30;
/** How long SIGTERM waits for running deploys and removals before leaving them to the next start. */
const SHUTDOWN_DEPLOY_WAIT_MS = 10_000;

async function main(argv: string[]): Promise<number> {
  const command = parseAgentArgs(argv);
  switch (command.cmd) {
    case 'help':
      process.stdout.write(command.text);
      return 0;
    case 'router':
      await routerMain(command.argv);
      return 0;
    case 'run':
      return run(loadAgentConfig(command.flags));
    case 'init': {
      const stateDir = loadStateDir(command.flags);
      const r = await initIdentity(stateDir, { sans: command.sans, force: command.force });
      process.stdout.write(
        `${r.keysCreated ? 'created' : 'kept existing'} identity in ${stateDir}\n` +
          `${r.certificateCreated ? 'created' : 'kept existing'} TLS certificate\n` +
          `agent id:        ${r.agentId}\n` +
          `tls fingerprint: ${r.tlsFingerprint}\n`,
      );
      return 0;
    }
    case 'trust-add':
    case 'trust-list':
    case 'trust-remove':
      return withStore(command.flags, async (store) => {
        process.stdout.write(await trustCommand(store, command));
        return 0;
      });
    case 'status': {
      const config = loadAgentConfig(command.flags);
      const identity = await loadIdentity(config.paths);
      return withStore(command.flags, async (store) => {
        process.stdout.write(renderStatus(agentStatus(config, identity, store.keys.list().length), command.json));
        return 0;
      });
    }
  }
}

async function trustCommand(store: Store, command: Extract<AgentCommand, { cmd: `trust-${string}` }>): Promise<string> {
  switch (command.cmd) {
    case 'trust-add':
      return `${await trustAdd(store, command.line, command.scope)}\n`;
    case 'trust-list':
      return renderTrustList(store.keys.list(), command.json);
    case 'trust-remove':
      return `${trustRemove(store, command.kid)}\n`;
  }
}

async function withStore<T>(flags: AgentFlags, fn: (store: Store) => Promise<T>): Promise<T> {
  const stateDir = loadStateDir(flags);
  if (!existsSync(stateDir)) throw new ConfigError(`state directory ${stateDir} does not exist`, 'run berth-agent init first');
  const store = openStore(agentPaths(stateDir).db);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

async function run(config: AgentConfig): Promise<number> {
  const log = createLogger('agent');
  // A stray rejection must not take the agent down (the router keeps serving
  // either way, but deploys and route syncs would stop); it must be visible.
  process.on('unhandledRejection', (reason) => log.error('unhandled promise rejection', { error: reason }));
  const identity = await loadIdentity(config.paths);
  const store = openStore(config.paths.db);
  // Before cron and backups start: runs a previous process left open are counted as they are closed.
  const metrics = config.metricsListen ? createAgentMetrics(store) : undefined;
  const guardrails = agentGuardrails(config);
  // Scoped to this agent (it never sees or touches another agent's containers on a shared engine);
  // inside that, every create and start is judged by the bind guard against the whole engine.
  const docker = scopeToAgent(guardBinds(createDockerPort(config.dockerHost, config.network), guardrails), {
    agentId: identity.agentId,
    adoptsLegacy: adoptsByDeployRecord(store),
  });
  const router = createRouterClient(config.routerSocket);
  // Backups (agent/backups/): made before the engine, which takes the before_deploy ones; started after reconcile.
  const backups = createBackupService({
    store,
    docker,
    log,
    roots: config.backups.roots,
    maxRunning: config.backups.maxRunning,
    stateDir: config.stateDir,
    policy: guardrails,
    hostname: config.hostname,
    agentId: identity.agentId,
    network: config.network,
    sealingPrivateJwk: identity.sealingPrivateJwk,
    notify: postNotify,
  });
  // Certificates for ssl roles (agent/tls/): issued at deploys, renewed by a timer, resent to the router.
  const tls = createTlsService({
    store,
    files: tlsFiles(config.stateDir),
    router,
    acme: {
      directoryUrl: config.acme.directoryUrl,
      email: config.acme.email,
      caPem: config.acme.caFile ? await readAcmeCa(config.acme.caFile) : undefined,
    },
    log,
    // A failed renewal goes to the current release's notify hook, like a failed cron run or backup.
    notifyFailure: async (rec, error, nextAttemptAt) => {
      const current = store.current(rec.service, rec.destination);
      const manifest = current ? store.getRelease(current.deploy_id)?.payload : undefined;
      if (!manifest) return;
      const outcome = await sendFailureNotice({ notify: postNotify, sealingPrivateJwk: identity.sealingPrivateJwk }, manifest, {
        event: 'certificate.failed', service: rec.service, destination: rec.destination, hosts: rec.hosts, host: config.hostname,
        agent: identity.agentId, error, not_after: new Date(rec.not_after).toISOString(), next_attempt_at: new Date(nextAttemptAt).toISOString(),
      });
      if (outcome !== undefined) log.info('certificate renewal failure notice', { id: rec.id, outcome });
    },
  });
  const engine = createEngine({
    backups,
    tls,
    store,
    docker,
    router,
    log,
    config: {
      stateDir: config.stateDir,
      network: config.network,
      networkSubnet: config.networkSubnet,
      hostname: config.hostname,
      sealingPrivateJwk: identity.sealingPrivateJwk,
      guardrails,
    },
    ...(config.testPauseAt ? { afterState: pauseAt(config.stateDir, config.testPauseAt) } : {}),
    ...(metrics ? { onPhase: metrics.onPhase } : {}),
  });

  try {
    await engine.reconcile();
  } catch (e) {
    log.error('reconcile failed; serving anyway, unfinished deploys stay locked until the next start', { err: e });
  }
  const stopSync = startRouteSync(engine, ROUTE_SYNC_INTERVAL_MS, log);
  const stopReplicaWatch = startReplicaWatch(engine, REPLICA_WATCH_INTERVAL_MS, log);
  const stopRouteSync = () => {
    stopSync();
    stopReplicaWatch();
  };
  tls.start();
  await disarmLegacyRestarts(docker, guardrails, log);
  // Exec containers outlive an agent that died mid-command; nobody will read them (this agent's only).
  await removeExecOrphans(docker).then(
    (n) => n > 0 && log.info('removed exec containers left by a previous run', { count: n }),
    (e: unknown) => log.warn('could not remove leftover exec containers', { err: e }),
  );
  const websockets = createWebSocketSupport();

  // The app's cron jobs (agent/cron/): after reconcile, so the current releases are settled.
  const cron = createCronScheduler({
    store,
    docker,
    runner: createCronRunner({ docker, hostname: config.hostname, network: config.network, sealingPrivateJwk: identity.sealingPrivateJwk, guardrails }),
    log,
    agentId: identity.agentId,
    hostname: config.hostname,
    sealingPrivateJwk: identity.sealingPrivateJwk,
    maxRunning: config.cron.maxRunning,
  });
  await cron.start().catch((e: unknown) => log.error('cron: starting the schedules failed; jobs are scheduled as releases go live', { err: e }));
  await backups.start().catch((e: unknown) => log.error('backups: starting the schedules failed; backups are scheduled as releases go live', { err: e }));

  const running = new Set<Promise<void>>();
  const tracked = withRemovalCleanup(trackedEngine(engine, running), cron, backups, docker, tls, log);
  // Verified deliveries become deploys of the registry's digest, after the answer (agent/webhooks/).
  const webhookIntake = createWebhookIntake({
    store,
    engine: tracked,
    log,
    openRegistryCredentials: registryCredentials(identity.sealingPrivateJwk),
  });
  // Polled tags go through the same intake (agent/webhooks/poller.ts); policies re-read as each deploy ends.
  const poller = startPoller({
    store,
    intake: webhookIntake,
    agentId: identity.agentId,
    log,
    openRegistryCredentials: registryCredentials(identity.sealingPrivateJwk),
    scale: config.testPollScale,
  });
  const app = buildApp({
    store,
    docker,
    identity,
    log,
    guardrails,
    ops: { docker, hostname: config.hostname, network: config.network, logFollowLimitMs: config.logFollowLimitMs },
    upgradeWebSocket: websockets.upgrade,
    // SIGTERM waits for what these start (deploys and removals alike) before closing the store.
    engine: tracked,
    appState: { ...engine.appState, stop: (c) => track(running, engine.appState.stop(c)), start: (c) => track(running, engine.appState.start(c)) },
    // Restores stop the app's writers: SIGTERM waits for them to start them again.
    track: (work) => track(running, work),
    webhookIntake,
    cron,
    cronPolicy: config.cron,
    backups,
    backupMinIntervalS: config.backups.minIntervalS,
    accessories: {
      docker,
      stateDir: config.stateDir,
      network: config.network,
      networkSubnet: config.networkSubnet,
      sealingPrivateJwk: identity.sealingPrivateJwk,
      policy: guardrails,
      routing: { routes: store.routes, publish: () => engine.publishRoutes(), tls },
    },
  });
  const server = await startApiServer(app, {
    listen: config.listen,
    tlsCertPem: identity.tlsCertPem,
    tlsKeyPem: identity.tlsKeyPem,
    attachUpgrades: (s) => websockets.attach(s, app),
    limits: config.connections,
    warn: (message) => log.warn(message),
  });
  // Deliveries through the router (every app host); without it, webhooks still reach the API port.
  const webhookSocket = await startWebhookSocket(webhookOnly(app), config.webhookSocket).catch((e: unknown) => {
    log.warn('webhooks will reach only the API port: cannot listen on the webhook socket', { path: config.webhookSocket, err: e });
    return undefined;
  });
  const metricsServer = metrics && config.metricsListen ? await startAgentMetrics(config.metricsListen, metrics, log) : undefined;
  log.info('listening', {
    address: `${server.address.address}:${server.address.port}`, agent_id: identity.agentId, tls_fingerprint: identity.tlsFingerprint,
    max_connections: server.limits.maxConnections, max_connections_per_ip: server.limits.maxPerAddress,
  });
  if (store.keys.list().length === 0) {
    log.warn("no trusted keys: every authenticated request will be refused until berth-agent trust add '<line>'");
  }

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      log.info('shutting down', { signal, running_deploys: running.size });
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // Upgraded sockets are no longer the HTTP server's to close; their exec sessions clean up on close.
  websockets.closeAll();
  poller.stop();
  // Running jobs are stopped and recorded as interrupted (loud) rather than left to a dead agent.
  running.add(cron.stop());
  // Backups under way are cut short and recorded as interrupted; their temp files go at the next start.
  running.add(backups.stop());
  // Bake windows end now; the next start reopens those still open.
  running.add(engine.stopBakes());
  // A renewal under way finishes (bounded by its ACME deadline); no new one starts.
  running.add(tls.stop());
  await webhookSocket?.close();
  await metricsServer?.close();
  return shutdown({ server, stopRouteSync, running, store, log });
}

async function shutdown(s: {
  server: { close(graceMs?: number): Promise<void> };
  stopRouteSync: () => void;
  running: Set<Promise<void>>;
  store: Store;
  log: Logger;
}): Promise<number> {
  s.stopRouteSync();
  await s.server.close();
  const settled = await Promise.race([
    Promise.allSettled([...s.running]).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), SHUTDOWN_DEPLOY_WAIT_MS).unref()),
  ]);
  if (!settled) {
    // SQLite (WAL) is crash-safe: leaving the store open is safe, and the next
    // start's reconcile finishes or undoes what was interrupted.
    s.log.warn('exiting with work still running; the next start reconciles deploys, and deploy remove again finishes a removal', { running_deploys: s.running.size });
    return 0;
  }
  s.store.close();
  return 0;
}

exitWith(main(process.argv.slice(2)));

/**
 * A removed service takes its cron schedules, running jobs and their rows
 * along, its backup schedules (not its backups), and its accessory containers (their kept data stays: `deploy
 * accessory remove --purge` deletes it).
 */
function withRemovalCleanup(
  engine: ReturnType<typeof trackedEngine>, cron: CronScheduler, backups: BackupService, docker: DockerPort, tls: TlsService, log: Logger,
): ReturnType<typeof trackedEngine> {
  return {
    ...engine,
    removeService: async (req) => {
      const result = await engine.removeService(req);
      await cron.serviceRemoved(req).catch((e: unknown) => log.error('cron: clearing a removed service failed', { service: req.service, err: e }));
      // Its backup schedules go; its backup rows and files stay (they are what brings it back).
      backups.serviceRemoved(req);
      // After the routes are gone, so no redirect points at a certificate about to go.
      await tls.serviceRemoved(req).catch((e: unknown) => log.error('removing the certificates of a removed service failed', { service: req.service, err: e }));
      const accessories = await removeServiceAccessories(docker, req.service, req.destination, ACCESSORY_STOP_TIMEOUT_S).catch((e: unknown) => {
        log.error('removing the accessories of a removed service failed', { service: req.service, err: e });
        return [];
      });
      return { ...result, containers: [...result.containers, ...accessories] };
    },
  };
}

/** App containers Docker would restart by itself into a bind that fails today's guardrails get restart policy `no`. */
async function disarmLegacyRestarts(docker: DockerPort, guardrails: GuardrailPolicy, log: Logger): Promise<void> {
  try {
    const ids = (await docker.listContainers({ [LABEL.kind]: APP_KIND }, true)).map((c) => c.id);
    for (const d of await disarmUnsafeRestarts(docker, guardrails, ids)) {
      log.warn('a container will not be restarted by Docker: its bind mounts fail the guardrails today', { container: d.name, reason: d.reason });
    }
  } catch (e) {
    log.warn('could not check the bind mounts of existing containers', { err: e });
  }
}

async function readAcmeCa(file: string): Promise<string> {
  const pem = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError(`--acme-ca-file ${file}: ${e.code ?? e.message}`);
  });
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--acme-ca-file ${file} holds no PEM certificate`);
  return pem;
}
