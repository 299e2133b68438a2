// Bringing one unfinished deploy to a final state, after an agent restart or a
// failure of the engine itself. Before SWITCHED a deploy is undone (REVERTED);
// at or after it, or when the router already serves it, finished (DONE).
import { UpstreamError, errorText } from '../../shared/errors.js';
import { DEPLOY_STATES, type DeployRecord, type DeployState } from '../../shared/api-types.js';
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { LABEL, isReleaseContainer } from '../core/containers.js';
import { plan } from '../core/plan.js';
import type { ContainerInfo } from '../docker.js';
import { finishAfterSwitch, routedHosts } from './finish.js';
import { serviceContainers } from './observe.js';
import type { RoutePublisher } from './route-publisher.js';
import type { EngineDeps } from './types.js';

export interface SettleOptions {
  /** Opens the reason text: `agent restarted`, `deploy interrupted`. */
  why: string;
  /** Last attempt: reach a final state even if the clean-up fails. */
  force?: boolean;
}

export interface Settler {
  deps: EngineDeps;
  publisher: RoutePublisher;
}

const SWITCHED_AT = DEPLOY_STATES.indexOf('SWITCHED');

const isSwitched = (d: DeployRecord) => DEPLOY_STATES.indexOf(d.state) >= SWITCHED_AT && d.state !== 'FAILED' && d.state !== 'REVERTED';

export async function settle(s: Settler, d: DeployRecord, o: SettleOptions): Promise<void> {
  try {
    await settleOnce(s, d, o);
  } catch (err) {
    if (!o.force) throw err;
    forceFinal(s, d, o, err);
  }
}

async function settleOnce(s: Settler, d: DeployRecord, o: SettleOptions): Promise<void> {
  const { store, docker } = s.deps;
  let manifest: ManifestPayload;
  try {
    manifest = parseManifestPayload(store.getRelease(d.id)?.payload);
  } catch (err) {
    abandon(s, d, `${o.why} during ${d.state}; stored manifest unreadable: ${errorText(err)}`);
    return;
  }
  const containers = await serviceContainers(docker, d.service, d.destination);
  const mine = containers.filter((c) => Object.keys(manifest.roles).some((role) => isReleaseContainer(c.labels, { ...d, role, release: d.version })));
  const routed = routedHosts(store);
  // A crash between writing the new routes and recording SWITCHED: the table already sends traffic to it.
  const servesAlready = mine.some((c) => c.ip !== null && routed.has(c.ip) && c.running);

  if (isSwitched(d) || (servesAlready && d.state !== 'FAILED')) {
    await finishSwitch(s, d, manifest, containers, o);
    return;
  }
  for (const c of mine) {
    if (c.ip && routed.has(c.ip)) continue;
    if (c.labels[LABEL.deploy] === String(d.id)) await docker.remove(c.id, { force: true });
    else if (c.running) await docker.stop(c.id, manifest.stop_timeout); // a retained one this deploy had started
  }
  abandon(s, d, reasonFor(d, o));
}

/** The last attempt failed too: record a final state anyway. */
function forceFinal(s: Settler, d: DeployRecord, o: SettleOptions, err: unknown): void {
  const { store } = s.deps;
  const current = store.getDeploy(d.id) ?? d;
  if (isSwitched(current)) {
    // The new release serves; the old containers are left as they are for the next deploy to stop.
    store.addEvent(d.id, current.state, `could not finish the drain: ${errorText(err)}; old containers left as they were`);
    store.setState(d.id, 'DONE');
    store.addEvent(d.id, 'DONE', `${d.service} ${d.version} is live`);
  } else {
    abandon(s, d, `${reasonFor(current, o)} (clean-up failed: ${errorText(err)})`);
  }
}

function reasonFor(d: DeployRecord, o: SettleOptions): string {
  // A deploy that failed on its own keeps its own reason.
  if (d.state === 'FAILED' && d.error) return d.error;
  return `${o.why} during ${d.state}; release abandoned`;
}

function abandon(s: Settler, d: DeployRecord, reason: string): void {
  s.deps.store.setState(d.id, 'REVERTED', reason);
  s.deps.store.addEvent(d.id, 'REVERTED', reason);
  s.deps.log.warn('unfinished deploy reverted', { deploy: d.id, service: d.service, reason });
}

async function finishSwitch(s: Settler, d: DeployRecord, m: ManifestPayload, containers: ContainerInfo[], o: SettleOptions): Promise<void> {
  const { store } = s.deps;
  // Stopping an old container the router still sends traffic to would fail requests.
  if (!(await s.publisher.sync())) {
    throw new UpstreamError('the router does not serve the route table yet; old containers stay until it does');
  }
  store.addEvent(d.id, d.state, `${o.why} during ${d.state}; finishing the switch`);
  // Past the switch the release's own containers are the ones to keep, whatever
  // their spec: take their fingerprints as they are (no secrets need opening).
  const fingerprints = Object.fromEntries(
    Object.keys(m.roles).flatMap((role) => {
      const own = containers.find((c) => isReleaseContainer(c.labels, { ...d, role, release: d.version }));
      const label = own?.labels[LABEL.spec];
      return label === undefined ? [] : [[role, label]];
    }),
  );
  const steps = plan(m, { imagePresent: true, containers, routes: store.routes.all() }, fingerprints);
  store.setCurrent(m.service, m.destination, d.id);
  const enter = async (state: DeployState, message: string) => {
    store.setState(d.id, state);
    store.addEvent(d.id, state, message);
  };
  // The router already sends traffic to it: the switch happened, only its record was missing.
  if (!isSwitched(d)) await enter('SWITCHED', 'the router already serves it; switch recorded');
  await finishAfterSwitch(s.deps, d.id, m, steps, enter);
}
