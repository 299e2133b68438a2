import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostResult } from '../../../cli/output/deploy.js';
import type { Printer } from '../../../cli/output/printer.js';
import { createPushReporter, type OutputMode } from '../../../cli/output/push-reporter.js';
import { plainStyle } from '../../../cli/output/style.js';

function capture(): { printer: Printer; out: string[] } {
  const out: string[] = [];
  return {
    out,
    printer: {
      out: (t) => void out.push(t.endsWith('\n') ? t : `${t}\n`),
      err: () => undefined,
      outRaw: (t) => void out.push(t),
      json: (v) => void out.push(JSON.stringify(v) + '\n'),
      columns: 100,
    },
  };
}

const results: HostResult[] = [
  { host: 'h1', roles: ['web'], release: 'v2', ok: false, state: 'REVERTED', seconds: 2, error: 'never healthy' },
  { host: 'h2', roles: ['web'], release: 'v2', ok: false, state: 'SKIPPED', seconds: 0, error: 'skipped: the primary host h1 failed' },
];

function run(mode: OutputMode): string {
  const { printer, out } = capture();
  const r = createPushReporter(printer, plainStyle, mode, ['h1', 'h2']);
  r.update({ host: 'h1', state: 'PULLED', message: 'pulling', progress: 40 });
  r.note('waiting 5s before the next batch (h2)', ['h2']);
  r.hostDone(results[0]!);
  r.finish(results);
  return out.join('');
}

describe('push reporter', () => {
  it('on a terminal redraws one line per host, then marks failed and skipped hosts and prints the summary', () => {
    const text = run('live');
    const frames = text.split('\x1b[2A');
    assert.equal(frames.length, 4, 'every frame after the first redraws the two host lines');
    assert.match(frames[0]!, /… h1    PULLED     \[########------------\]  40% pulling\n.*… h2    WAITING/s);
    assert.match(frames[1]!, /… h2    WAITING    waiting 5s before the next batch \(h2\)/);
    assert.match(frames[2]!, /✗ h1    REVERTED   never healthy\n\r\x1b\[2K… h2    WAITING/, 'a finished host shows its outcome at once');
    assert.match(frames[3]!, /✗ h1    REVERTED   never healthy\n\r\x1b\[2K- h2    SKIPPED    skipped: the primary host h1 failed\n/);
    assert.match(text, /\nHOST  ROLE  RELEASE  RESULT                 TIME\nh1    web   v2       failed: never healthy  2\.0s\nh2    web   v2       skipped                -\n$/);
  });

  it('writes plain lines and the note when not a terminal, and NDJSON records with --json', () => {
    assert.match(run('plain'), /^h1    PULLED     pulling \(40%\)\nwaiting 5s before the next batch \(h2\)\n\nHOST/);
    const records = run('json').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.type), ['progress', 'note', 'result', 'result']);
    assert.deepEqual(records[1], { type: 'note', message: 'waiting 5s before the next batch (h2)', hosts: ['h2'] });
    assert.deepEqual([records[3].host, records[3].state, records[3].ok, records[3].roles], ['h2', 'SKIPPED', false, ['web']]);
  });
});
