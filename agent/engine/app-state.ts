// `deploy app stop|start` on this server (Kamal's `kamal app stop|start`).
// Stop: the roles are marked stopped and their routes leave the router (the
// hosts get the router's unrouted answer) before the live release's containers
// get a graceful `docker stop`; the mark persists, so nothing the agent does by
// itself starts them again (agent/store/app-state-repo.ts). Start: the containers are
// started, every replica must pass the role's health check (as in a deploy),
// then the routes come back at the addresses Docker gave them. A start that
// fails stops what it started again and the roles stay stopped. One stop or
// start at a time per agent.
import type { AppRoleOutcome, AppStateResult, AppStoppedRole } from '../../shared/app-state.js';
import { NotFoundError, UpstreamError, UserError, errorText } from '../../shared/errors.js';
import { manifestSubject, parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { roleOf } from '../core/containers.js';
import { proxiedRoles, routeFor, routeKey, routeName } from '../core/routes.js';
import type { DockerPort } from '../docker.js';
import type { HealthProbe } from '../http-probe.js';
import type { Logger } from '../log.js';
import { createSerial } from '../serial.js';
import type { Store } from '../store/index.js';
import { runningAddress, waitHttpHealthy, waitStillRunning } from './health.js';
import { aliveCheck } from './launch.js';
import { releaseContainers } from './observe.js';
import type { RoutePublisher } from './route-publisher.js';
import type { AppStateChange, AppStateSwitch } from './types.js';

export interface AppStateDeps {
  store: Store;
  docker: DockerPort;
  log: Logger;
  /** The agent's Docker network: where the containers' addresses are. */
  network: string;
  /** Defaults to HTTP (health.ts); injected only by tests. */
  probe?: HealthProbe | undefined;
}

interface Live {
  m: ManifestPayload;
  deployId: number;
  roles: string[];
}

/** The live release and the roles asked for: 404 for a service with none or a role it does not have. */
function liveRelease(store: Store, c: AppStateChange): Live {
  const name = manifestSubject(c.service, c.destination);
  if (store.seq(c.service, c.destination) === 0) throw new NotFoundError(`service ${name} has never been deployed on this agent`);
  const current = store.current(c.service, c.destination);
  if (!current) throw new NotFoundError(`service ${name} has no live release on this agent`, 'deploy push first');
  const m = parseManifestPayload(store.getRelease(current.deploy_id)?.payload);
  const all = Object.keys(m.roles).sort();
  const unknown = (c.roles ?? []).filter((r) => !all.includes(r));
  if (unknown.length > 0) {
    throw new NotFoundError(`role ${unknown.join(', ')} is not in release ${m.version} of ${name} on this agent`, `its roles here: ${all.join(', ')}`);
  }
  return { m, deployId: current.deploy_id, roles: c.roles ? all.filter((r) => c.roles!.includes(r)) : all };
}

const routeOf = (m: ManifestPayload, role: string): string | null => (roleOf(m, role).proxy ? routeName(m, role) : null);

export function createAppState(deps: AppStateDeps, publisher: Pick<RoutePublisher, 'publishChange'>): AppStateSwitch {
  const { store, docker, log } = deps;
  const serial = createSerial();

  const outcome = async (m: ManifestPayload, roles: string[], changed: ReadonlySet<string>): Promise<AppStateResult> => {
    const stopped = new Set(store.appState.get(m.service, m.destination).map((r) => r.role));
    const out: AppRoleOutcome[] = [];
    for (const role of roles) {
      out.push({ role, stopped: stopped.has(role), changed: changed.has(role), containers: (await releaseContainers(docker, m, role)).map((c) => c.name) });
    }
    return { service: m.service, destination: m.destination, version: m.version, roles: out };
  };

  const stop = async (c: AppStateChange): Promise<AppStateResult> => {
    const { m, deployId, roles } = liveRelease(store, c);
    store.appState.assertNotHeld(c.service, c.destination, 'stop');
    const before = new Set(store.appState.get(c.service, c.destination).map((r) => r.role));
    const entries = roles.map((role) => ({ role, route: routeOf(m, role) }));
    const hide = entries.flatMap((e) => (e.route ? [e.route] : []));
    // The routes go first, so no request reaches a container about to stop.
    await publisher.publishChange(
      (stored) => ({ ...stored, stopped: [...new Set([...stored.stopped, ...hide])] }),
      () => store.appState.stop({ service: c.service, destination: c.destination, keyId: c.keyId, deployId, version: m.version, roles: entries }),
    );
    const timeout = m.stop_timeout;
    const failures: string[] = [];
    // All at once: the answer comes within one stop_timeout however many containers there are.
    await Promise.all(roles.map(async (role) => {
      for (const { name, info } of await releaseContainers(docker, m, role)) {
        if (!info?.running) continue;
        try {
          await docker.stop(info.id, timeout);
        } catch (err) {
          failures.push(`${name} (${errorText(err)})`);
        }
      }
    }));
    if (failures.length > 0) {
      throw new UpstreamError(`${manifestSubject(c.service, c.destination)}: could not stop ${failures.join(', ')}`, 'it is stopped and unrouted here; run deploy app stop again to stop the rest');
    }
    log.info('app stopped', { service: manifestSubject(c.service, c.destination), version: m.version, roles });
    return outcome(m, roles, new Set(roles.filter((r) => !before.has(r))));
  };

  const start = async (c: AppStateChange): Promise<AppStateResult> => {
    const { m, deployId, roles } = liveRelease(store, c);
    const stopped = store.appState.get(c.service, c.destination).filter((r) => roles.includes(r.role));
    // Not stopped: nothing to do, and nothing recorded (Kamal would start them; here they already run).
    if (stopped.length === 0) return outcome(m, roles, new Set());
    store.appState.assertNotHeld(c.service, c.destination, 'start');
    const started: string[] = [];
    const ips = new Map<string, string[]>();
    try {
      await Promise.all(stopped.map(async ({ role }) => ips.set(role, await startRole(deps, m, role, started))));
    } catch (err) {
      // The roles stay stopped: what this start started is stopped again.
      await Promise.all(started.map((id) => docker.stop(id, m.stop_timeout).catch((e: unknown) => log.warn('could not stop a container again after a failed start', { container: id, error: e }))));
      throw new UpstreamError(`${manifestSubject(c.service, c.destination)}: the start failed: ${errorText(err)}`, 'it stays stopped; see deploy logs, then deploy app start again');
    }
    // Docker may have given the containers new addresses: the routes point at them before they are published.
    store.appState.assertNotHeld(c.service, c.destination, 'start');
    const proxied = new Set(proxiedRoles(m));
    for (const { role } of stopped) {
      const route = proxied.has(role) ? routeFor(m, role, ips.get(role) ?? []) : undefined;
      if (!route) continue;
      const key = routeKey(m, role);
      store.routes.set(key.service, key.destination, route);
    }
    const show = stopped.flatMap((r) => (r.route ? [r.route] : []));
    const ended = await publisher.publishChange(
      (stored) => ({ ...stored, stopped: stored.stopped.filter((n) => !show.includes(n)) }),
      () => store.appState.start({ service: c.service, destination: c.destination, keyId: c.keyId, deployId, version: m.version, roles: stopped.map((r) => r.role) }),
    );
    log.info('app started', { service: manifestSubject(c.service, c.destination), version: m.version, roles: ended.map((r) => r.role) });
    return outcome(m, roles, new Set(ended.map((r) => r.role)));
  };

  return {
    check(c, action) {
      liveRelease(store, c);
      // A start of what is not stopped is a no-op whoever holds the service.
      if (action === 'stop' || store.appState.get(c.service, c.destination).length > 0) store.appState.assertNotHeld(c.service, c.destination, action);
    },
    stop: (c) => serial(() => stop(c)),
    start: (c) => serial(() => start(c)),
  };
}

/** Starts every replica of a role and waits until each passes its check; returns their addresses. */
async function startRole(deps: AppStateDeps, m: ManifestPayload, role: string, started: string[]): Promise<string[]> {
  const { docker } = deps;
  const proxy = roleOf(m, role).proxy;
  const replicas = await releaseContainers(docker, m, role);
  const missing = replicas.filter((r) => !r.info).map((r) => r.name);
  if (missing.length > 0) throw new UserError(`release ${m.version} has no container ${missing.join(', ')} here any more`, 'deploy push brings the release back');
  return Promise.all(replicas.map(async ({ name, info }) => {
    const id = info!.id;
    if (!info!.running) {
      await docker.start(id);
      started.push(id);
    }
    const checkAlive = aliveCheck(docker, id, name);
    if (!proxy) {
      await waitStillRunning(m.readiness_delay, checkAlive);
      return '';
    }
    const ip = await runningAddress(() => docker.inspect(id), checkAlive, { name, network: deps.network });
    await waitHttpHealthy({
      host: ip,
      port: proxy.app_port,
      path: proxy.healthcheck.path,
      intervalSeconds: proxy.healthcheck.interval,
      requestTimeoutSeconds: proxy.healthcheck.timeout,
      timeoutSeconds: m.deploy_timeout,
      checkAlive,
      ...(deps.probe ? { probe: deps.probe } : {}),
    });
    return ip;
  }));
}

/** A deploy's switch ends every stop of its service; `restore` when the switch failed, `done` once it went live. */
export function endStopsForSwitch(store: Store, service: string, destination: string) {
  const ended: AppStoppedRole[] = store.appState.takeForSwitch(service, destination);
  return {
    restore: () => store.appState.restore(service, destination, ended),
    done: (deploy: { id: number; version: string; keyId: string }) => store.appState.resumedBy(service, destination, deploy, ended),
  };
}

/** Roles of a live release the agent must leave as they are (not start, not reroute). */
export function stoppedRoles(store: Pick<Store, 'appState'>, service: string, destination: string): Set<string> {
  return new Set(store.appState.get(service, destination).map((r) => r.role));
}
