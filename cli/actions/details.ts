// deploy details: per server, the current release, every container of the
// service, the routes the router serves for it, and its lock.

import type { ServiceDetail } from '../../shared/service-detail.js';
import type { RunContext } from '../command.js';
import { readFleetServices } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson } from '../rollout/hosts.js';
import { renderTable } from '../output/table.js';
import { lockHolder, sanitize, shortImage } from '../output/style.js';

/** One server's block: a header line, then release, lock, maintenance, containers and routes. */
export function renderDetailsBlock(host: string, service: ServiceDetail | null, error?: string): string {
  const lines = [`${host}`];
  if (error !== undefined) return [...lines, `  error: ${sanitize(error, 500)}`, ''].join('\n');
  if (!service) return [...lines, '  never deployed here', ''].join('\n');
  const current = service.current;
  lines.push(
    current
      ? `  release:     ${sanitize(current.version, 130)} (seq ${current.seq}, deploy #${current.deploy_id}, ${sanitize(shortImage(current.image), 200)})`
      : `  release:     none (seq ${service.seq})`,
  );
  if (service.lock !== undefined) {
    const lock = service.lock;
    lines.push(lock ? `  lock:        locked by ${lockHolder(lock)} since ${sanitize(lock.since, 40)}: ${sanitize(lock.message, 500)}` : '  lock:        none');
  }
  if (service.maintenance !== undefined) {
    const m = service.maintenance;
    lines.push(m ? `  maintenance: on since ${sanitize(m.since, 40)}${m.message ? `: ${sanitize(m.message, 500)}` : ''}` : '  maintenance: off');
  }
  if ((service.stopped ?? []).length > 0) {
    const stopped = service.stopped ?? [];
    lines.push(`  app:         stopped (${stopped.map((s) => `${sanitize(s.role, 63)} since ${sanitize(s.since, 40)}`).join(', ')}); deploy start brings it back`);
  }
  if (service.last_deploy) {
    const d = service.last_deploy;
    lines.push(`  last deploy: #${d.id} ${sanitize(d.version, 130)} ${d.state} at ${sanitize(d.at, 40)}${d.error ? `: ${sanitize(d.error, 500)}` : ''}`);
  }
  const containers = service.containers;
  lines.push('');
  if (containers.length === 0) lines.push('  no containers');
  else {
    const table = renderTable(
      ['NAME', 'ROLE', 'RELEASE', 'STATE', 'STATUS'],
      containers.map((c) => [c.name, c.role, c.release, c.state, c.status].map((v) => sanitize(v, 130))),
    );
    lines.push(...table.trimEnd().split('\n').map((l) => `  ${l}`));
  }
  const routes = service.routes;
  lines.push('');
  if (routes.length === 0) lines.push('  no routes');
  else lines.push('  ROUTES', ...routes.map((r) => `  ${sanitize(r.host, 260)} → ${sanitize(r.target, 60)}`));
  lines.push('');
  return lines.join('\n');
}

export async function details(ctx: RunContext): Promise<void> {
  const { service, destination, outcomes } = await readFleetServices(ctx);
  if (ctx.json) ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, 'service')) });
  else ctx.printer.out(outcomes.map((o) => (o.ok ? renderDetailsBlock(o.host, o.value) : renderDetailsBlock(o.host, null, o.error))).join('\n'));
  const failure = hostsFailure(outcomes, { doing: 'read the details' });
  if (failure) throw failure;
}
