// Renderers for `deploy releases`: one table, a block of rows per host.

import { isFinalDeployState, type ReleaseSummary } from '../../shared/api-types.js';
import { sanitize, shortImage, shortKey } from './style.js';
import { renderTable } from './table.js';

export interface HostReleases {
  host: string;
  /** null: the service was never deployed there. */
  releases: ReleaseSummary[] | null;
  error?: string;
}

/** current / deploying / bake failed / retained (a container is kept) / failed / gone. */
function releaseStatus(r: ReleaseSummary): string {
  if (r.current) return r.bake_failed ? 'current, bake failed' : 'current';
  if (!isFinalDeployState(r.last_state)) return 'deploying';
  if (r.bake_failed) return 'bake failed';
  if (r.container !== null) return 'retained';
  if (r.last_state !== 'DONE') return 'failed';
  return 'gone';
}

function when(iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : '-';
}

export function renderReleasesTable(hosts: HostReleases[]): string {
  const rows: string[][] = [];
  for (const h of hosts) {
    if (h.error !== undefined) rows.push([h.host, '-', '-', '-', '-', `error: ${sanitize(h.error, 300)}`]);
    else if (!h.releases || h.releases.length === 0) rows.push([h.host, '-', '-', '-', '-', 'never deployed']);
    else {
      for (const r of h.releases) {
        rows.push([h.host, sanitize(r.version, 130), sanitize(shortImage(r.image, { lastPart: true }), 200), when(r.created_at), sanitize(shortKey(r.key_id), 12), releaseStatus(r)]);
      }
    }
  }
  return renderTable(['HOST', 'RELEASE', 'IMAGE', 'WHEN', 'KEY', 'STATUS'], rows);
}
