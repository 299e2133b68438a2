// What `deploy accessory …` prints, as strings made from the agents' answers.
// A pending change (the running container differs from the current release)
// is written so that it says which command applies it.

import type { AccessoryActionResponse, AccessoryRemovedResponse } from '../../shared/api-responses.js';
import type { AccessoryStatus } from '../../shared/api-types.js';
import { renderTable } from '../output/table.js';
import { sanitize, type Style } from '../output/style.js';

/** What one action came to on one server for one accessory. */
export type ActionResult = AccessoryActionResponse | { exists: true };

/** One (server, accessory) row of an action or a removal; `error` only when it failed. */
export interface AccessoryRow<T> {
  host: string;
  accessory: string;
  result: T | null;
  error?: string;
}

export type Removed = AccessoryRemovedResponse['removed'];

/** One server's answer for details: its accessories (null: the service was never deployed there), or its error. */
export interface HostAccessories {
  host: string;
  /** The accessories the config places on this server, in its order. */
  expected: string[];
  accessories: AccessoryStatus[] | null;
  error?: string;
}

const PAST: Record<string, string> = { boot: 'booted', reboot: 'rebooted', start: 'started', stop: 'stopped' };

const errorCell = (error: string, style: Style) => style.red(`error: ${sanitize(error, 300)}`);

function changedCell(action: string, changed: string[]): string {
  if (changed.length === 0) return action === 'reboot' ? 'nothing changed' : '-';
  return sanitize(changed.join(', '), 300);
}

/** `deploy accessory boot|reboot|start|stop`: per server and accessory, what happened and (reboot) what changed. */
export function renderAccessoryActions(action: string, rows: ReadonlyArray<AccessoryRow<ActionResult>>, style: Style): string {
  return renderTable(['HOST', 'ACCESSORY', 'RESULT', 'STATE', 'CHANGED'], rows.map((r) => {
    const name = sanitize(r.accessory, 80);
    if (r.error !== undefined) return [r.host, name, errorCell(r.error, style), '-', '-'];
    if (!r.result) return [r.host, name, 'not here', '-', '-'];
    if ('exists' in r.result) return [r.host, name, 'already booted', '-', `- (deploy accessory reboot ${name} replaces it)`];
    return [r.host, name, PAST[action] ?? action, sanitize(r.result.accessory.state, 40), changedCell(action, r.result.changed)];
  }));
}

/** `deploy accessory remove`: per server and accessory, the container removed and the directories deleted. */
export function renderAccessoryRemoved(rows: ReadonlyArray<AccessoryRow<Removed>>, style: Style): string {
  return renderTable(['HOST', 'ACCESSORY', 'RESULT', 'DIRECTORIES DELETED'], rows.map((r) => {
    const name = sanitize(r.accessory, 80);
    if (r.error !== undefined) return [r.host, name, errorCell(r.error, style), '-'];
    if (!r.result) return [r.host, name, 'not in the current release here', '-'];
    const container = r.result.container === null ? 'no container' : `removed ${sanitize(r.result.container, 120)}`;
    return [r.host, name, container, r.result.purged.length ? sanitize(r.result.purged.join(', '), 500) : '-'];
  }));
}

function stateWord(a: AccessoryStatus, style: Style): string {
  const state = sanitize(a.state, 40);
  if (a.state === 'running') return style.green(state);
  return a.state === 'missing' ? style.red(state) : style.yellow(state);
}

/** One accessory on one server, a block of `label  value` lines. */
function accessoryBlock(host: string, a: AccessoryStatus, style: Style): string[] {
  const fields: Array<[string, string]> = [
    ['image', sanitize(a.image, 300)],
    ['container', a.container === null ? '-' : sanitize(a.container, 120)],
    ['state', stateWord(a, style)],
    ['port', a.port === null ? '-' : sanitize(a.port, 80)],
    ['host name', sanitize(a.host, 120)],
    ['changes', a.changes.length ? style.yellow(`reboot to apply: ${sanitize(a.changes.join(', '), 300)}`) : 'none'],
    ['directories', a.directories.length ? sanitize(a.directories.join(', '), 1000) : '-'],
  ];
  return [`${sanitize(a.name, 80)} on ${host}`, ...fields.map(([label, value]) => `  ${label.padEnd(12)}${value}`)];
}

/** `deploy accessory details`: per server, a block for each accessory the config places there. */
export function renderAccessoryDetails(hosts: readonly HostAccessories[], style: Style): string {
  const blocks: string[][] = [];
  for (const h of hosts) {
    if (h.error !== undefined) blocks.push([`${h.host}: ${errorCell(h.error, style)}`]);
    else if (h.accessories === null) blocks.push([`${h.host}: not deployed here`]);
    else {
      for (const name of h.expected) {
        const found = h.accessories.find((a) => a.name === name);
        blocks.push(found ? accessoryBlock(h.host, found, style) : [`${sanitize(name, 80)} on ${h.host}: not in the current release here (deploy push sends it)`]);
      }
    }
  }
  return `${blocks.map((b) => b.join('\n')).join('\n\n')}\n`;
}
