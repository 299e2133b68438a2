// Renderers for `deploy push`: progress as plain lines, a live terminal frame,
// NDJSON records, and the closing summary table. All return strings.

import { renderTable } from './table.js';
import { sanitize, type Style } from './style.js';

export interface HostProgress {
  host: string;
  state: string;
  message: string;
  progress?: number;
  /** Set once the host has a final outcome. */
  outcome?: 'ok' | 'failed' | 'skipped';
}

export interface HostResult {
  host: string;
  /** The roles this host runs. */
  roles: string[];
  release: string;
  ok: boolean;
  /** The deploy's final state; ERROR when it never got one; SKIPPED when the host was not contacted. */
  state: string;
  seconds: number;
  deployId?: number;
  error?: string;
}

/** What the summary calls a host where the release went live: `deployed`, `rolled back`. */
export interface SummaryWords {
  done: string;
}

function colorState(state: string, width: number, style: Style): string {
  const padded = state.padEnd(width);
  if (state === 'DONE') return style.green(padded);
  if (state === 'SKIPPED') return style.dim(padded);
  if (state === 'FAILED' || state === 'REVERTED' || state === 'ERROR') return style.red(padded);
  return style.yellow(padded);
}

/** `HOST  STATE  message`, columns aligned to the longest host name. */
export function renderProgressLine(p: HostProgress, hostWidth: number, style: Style): string {
  const percent = p.progress !== undefined ? ` (${Math.round(p.progress)}%)` : '';
  return `${p.host.padEnd(hostWidth)}  ${colorState(p.state, 9, style)}  ${sanitize(p.message)}${percent}`;
}

function bar(progress: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round((progress / 100) * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function fit(text: string, columns: number): string {
  return text.length > columns ? `${text.slice(0, columns - 1)}…` : text;
}

/** One line per host; `previousLines` lines of the last frame are overwritten in place. */
export function renderProgressFrame(hosts: HostProgress[], previousLines: number, columns: number, style: Style): string {
  const hostWidth = Math.max(...hosts.map((h) => h.host.length), 4);
  const up = previousLines > 0 ? `\x1b[${previousLines}A` : '';
  const lines = hosts.map((h) => {
    const mark = h.outcome === 'ok' ? '✓' : h.outcome === 'failed' ? '✗' : h.outcome === 'skipped' ? '-' : '…';
    const meter = h.progress !== undefined && !h.outcome ? `${bar(h.progress, 20)} ${String(Math.round(h.progress)).padStart(3)}% ` : '';
    const text = fit(`${mark} ${h.host.padEnd(hostWidth)}  ${h.state.padEnd(9)}  ${meter}${sanitize(h.message)}`, columns - 1);
    const colored = h.outcome === 'ok' ? style.green(text) : h.outcome === 'failed' ? style.red(text) : h.outcome === 'skipped' ? style.dim(text) : text;
    return `\r\x1b[2K${colored}\n`;
  });
  return up + lines.join('');
}

export function renderDurationSeconds(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(1)}s` : `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

function resultText(r: HostResult, words: SummaryWords, style: Style): string {
  if (r.ok) return style.green(words.done);
  if (r.state === 'SKIPPED') return style.dim('skipped');
  return style.red(`failed: ${sanitize(r.error ?? r.state, 300)}`);
}

export function renderSummaryTable(results: HostResult[], style: Style, words: SummaryWords = { done: 'deployed' }): string {
  const rows = results.map((r) => [
    r.host,
    r.roles.length ? r.roles.join(',') : '-',
    sanitize(r.release, 130),
    resultText(r, words, style),
    r.state === 'SKIPPED' ? '-' : renderDurationSeconds(r.seconds),
  ]);
  return renderTable(['HOST', 'ROLE', 'RELEASE', 'RESULT', 'TIME'], rows);
}

export function progressRecord(p: HostProgress & { deployId?: number; at?: string }): Record<string, unknown> {
  return {
    type: 'progress',
    host: p.host,
    ...(p.deployId !== undefined ? { deploy_id: p.deployId } : {}),
    state: p.state,
    message: p.message,
    ...(p.progress !== undefined ? { progress: p.progress } : {}),
    ...(p.at ? { at: p.at } : {}),
  };
}

export function resultRecord(r: HostResult): Record<string, unknown> {
  return {
    type: 'result',
    host: r.host,
    roles: r.roles,
    release: r.release,
    ok: r.ok,
    state: r.state,
    seconds: Math.round(r.seconds * 1000) / 1000,
    ...(r.deployId !== undefined ? { deploy_id: r.deployId } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}
