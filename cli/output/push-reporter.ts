// Live per-host progress of a push or rollback, in the output mode main chose:
// NDJSON records, a redrawn terminal frame, or plain appended lines.

import { progressRecord, renderProgressFrame, renderProgressLine, renderSummaryTable, resultRecord, type HostProgress, type HostResult, type SummaryWords } from './deploy.js';
import type { Printer } from './printer.js';
import type { Style } from './style.js';

export type OutputMode = 'json' | 'live' | 'plain';

export interface PushReporter {
  update(progress: HostProgress & { deployId?: number; at?: string }): void;
  /** A rollout-wide note (a boot.wait pause) about the hosts still waiting. */
  note(message: string, hosts: string[]): void;
  /** One host is finished; on a terminal its line shows the outcome while the others go on. */
  hostDone(result: HostResult): void;
  finish(results: HostResult[]): void;
}

export function createPushReporter(printer: Printer, style: Style, mode: OutputMode, hosts: string[], words: SummaryWords = { done: 'deployed' }): PushReporter {
  const hostWidth = Math.max(4, ...hosts.map((h) => h.length));
  const current = new Map<string, HostProgress>(hosts.map((host) => [host, { host, state: 'WAITING', message: '' }]));
  let drawnLines = 0;

  const outcomeLine = (r: HostResult): HostProgress => ({
    host: r.host,
    state: r.state,
    message: r.ok ? `${words.done} ${r.release}` : r.error ?? '',
    outcome: r.ok ? 'ok' : r.state === 'SKIPPED' ? 'skipped' : 'failed',
  });

  const redraw = () => {
    printer.outRaw(renderProgressFrame([...current.values()], drawnLines, printer.columns, style));
    drawnLines = current.size;
  };

  return {
    update(progress) {
      if (mode === 'json') return printer.json(progressRecord(progress));
      if (mode === 'plain') return printer.out(renderProgressLine(progress, hostWidth, style));
      current.set(progress.host, { ...progress });
      redraw();
    },
    note(message, waiting) {
      if (mode === 'json') return printer.json({ type: 'note', message, hosts: waiting });
      if (mode === 'plain') return printer.out(message);
      for (const host of waiting) current.set(host, { host, state: 'WAITING', message });
      redraw();
    },
    hostDone(r) {
      if (mode !== 'live') return;
      current.set(r.host, outcomeLine(r));
      redraw();
    },
    finish(results) {
      if (mode === 'json') {
        for (const r of results) printer.json(resultRecord(r));
        return;
      }
      if (mode === 'live') {
        for (const r of results) current.set(r.host, outcomeLine(r));
        redraw();
      }
      printer.out('\n' + renderSummaryTable(results, style, words));
    },
  };
}
