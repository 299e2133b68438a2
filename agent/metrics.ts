// The agent's metrics (--metrics-listen; docs/internals.md "Metrics").
// Deploy outcomes are read from the store at scrape time: deploy rows are
// never deleted, so the counts survive restarts and only grow. Cron runs,
// backups and webhook deliveries are counted in memory as they end (store bus
// events): their tables keep only the newest rows, so counting rows would go
// down. Phase durations come from the engine's onPhase hook.

import { Histogram, renderFamilies, type HistogramSample, type Labels, type MetricFamily, type Sample } from './core/prometheus.js';
import type { DeployPhase } from './engine/types.js';
import type { Logger } from './log.js';
import { isLoopback, processFamilies, startMetricsServer, type MetricsListen, type RunningMetricsServer } from './metrics-server.js';
import { BACKUP_ENDED } from './store/backups-repo.js';
import { CRON_RUN_ENDED } from './store/cron-repo.js';
import type { BackupRecord, CronRun } from '../shared/api-types.js';
import type { Store } from './store/index.js';
import { DELIVERY_SETTLED, type DeliverySettled } from './store/webhook-deliveries-repo.js';

/** Seconds: from a verify that takes a moment to a pull or health wait of half an hour. */
export const PHASE_BOUNDS: readonly number[] = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const DEPLOY_OUTCOME: Record<string, string> = { DONE: 'ok', REVERTED: 'failed' };

/** Counters keyed by their label values; names come from manifests, never from requests. */
class CounterSet {
  readonly #samples = new Map<string, { labels: Labels; value: number }>();

  inc(labels: Labels): void {
    const key = JSON.stringify(Object.values(labels));
    const sample = this.#samples.get(key);
    if (sample) sample.value += 1;
    else this.#samples.set(key, { labels, value: 1 });
  }

  samples(): Sample[] {
    return [...this.#samples.values()].map((s) => ({ labels: s.labels, value: s.value }));
  }
}

export interface AgentMetrics {
  onPhase(phase: DeployPhase, ms: number): void;
  render(): Promise<string>;
}

/** Listens on the store's bus from now on: create it before cron and backups start. */
export function createAgentMetrics(store: Store): AgentMetrics {
  const phases = new Map<string, Histogram>();
  const cron = new CounterSet();
  const backups = new CounterSet();
  const deliveries = new CounterSet();
  store.bus.on(CRON_RUN_ENDED, (r: CronRun) => cron.inc({ service: r.service, destination: r.destination, job: r.job, outcome: r.outcome }));
  store.bus.on(BACKUP_ENDED, (r: BackupRecord) => backups.inc({ service: r.service, destination: r.destination, backup: r.backup, outcome: r.outcome }));
  store.bus.on(DELIVERY_SETTLED, (d: DeliverySettled) => deliveries.inc({ service: d.service, destination: d.destination, outcome: d.outcome }));

  return {
    onPhase(phase, ms) {
      const name = phase.replace(/ /g, '_');
      let h = phases.get(name);
      if (!h) phases.set(name, (h = new Histogram(PHASE_BOUNDS)));
      h.observe(ms / 1000);
    },
    async render() {
      const outcomes: Sample[] = store.deployOutcomes().map((r) => ({
        labels: { service: r.service, destination: r.destination, outcome: DEPLOY_OUTCOME[r.state] ?? r.state },
        value: r.count,
      }));
      const phaseSamples: HistogramSample[] = [...phases].map(([phase, histogram]) => ({ labels: { phase }, histogram }));
      const families: MetricFamily[] = [
        { name: 'berth_deploys_total', help: 'Finished deploys by outcome (ok: DONE, failed: REVERTED), since the agent was installed.', type: 'counter', samples: outcomes },
        { name: 'berth_deploys_in_progress', help: 'Deploys not finished yet.', type: 'gauge', samples: [{ labels: {}, value: store.unfinishedDeploys().length }] },
        { name: 'berth_deploy_phase_duration_seconds', help: 'How long each deploy phase took, failed or not, since the agent started.', type: 'histogram', samples: phaseSamples },
        { name: 'berth_cron_runs_total', help: 'Cron runs that ended, by outcome, since the agent started.', type: 'counter', samples: cron.samples() },
        { name: 'berth_backups_total', help: 'Backup runs that ended, by outcome, since the agent started.', type: 'counter', samples: backups.samples() },
        { name: 'berth_webhook_deliveries_total', help: 'Webhook and poll deliveries by final outcome, since the agent started.', type: 'counter', samples: deliveries.samples() },
        ...(await processFamilies()),
      ];
      return renderFamilies(families);
    },
  };
}

/** Serves the metrics; a listener that cannot start is logged and the agent runs without it. */
export async function startAgentMetrics(listen: MetricsListen, metrics: AgentMetrics, log: Logger): Promise<RunningMetricsServer | undefined> {
  try {
    const server = await startMetricsServer({ listen, render: () => metrics.render(), log: (m) => log.warn(m) });
    const address = `${server.address.host}:${server.address.port}`;
    log.info('metrics listening', { address });
    if (!isLoopback(listen.host)) log.warn('metrics are not loopback-only: whoever reaches the address reads service, job and backup names', { address });
    return server;
  } catch (e) {
    log.error('metrics listener not started; running without metrics', { address: `${listen.host}:${listen.port}`, err: e });
    return undefined;
  }
}
