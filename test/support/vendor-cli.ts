// Stand-ins for password-manager CLIs (op, bw, aws, gcloud, doppler, lpass,
// bws), put first on PATH: each answers only the exact argument lists it was
// given (and, when set, only with the given environment, e.g. BW_SESSION),
// printing the vendor's documented output shape; anything else exits 99 with
// the arguments on stderr. Every call is logged so tests can check the order.

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface StandInCall {
  args: string[];
  /** Only answers when these environment variables have these values. */
  env?: Record<string, string>;
  /** Printed on stdout; a list answers the 1st, 2nd, … identical call in turn (the last repeats). */
  stdout?: string | string[];
  /** Printed on stderr (tests plant secrets here to prove Berth never shows it). */
  stderr?: string;
  exit?: number;
  /** Bytes of filler to print instead of stdout. */
  bytes?: number;
  /** Never exit (for timeouts). */
  hang?: boolean;
}

const SCRIPT = `
const fs = require('fs');
const self = process.argv[1];
const args = process.argv.slice(2);
const calls = JSON.parse(fs.readFileSync(self + '.json', 'utf8'));
const log = self + '.log';
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const previous = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l)).filter((c) => same(c.args, args)).length : 0;
fs.appendFileSync(log, JSON.stringify({ args, env: { BW_SESSION: process.env.BW_SESSION ?? null } }) + '\\n');
const call = calls.find((c) => same(c.args, args) && Object.entries(c.env || {}).every(([k, v]) => process.env[k] === v));
if (!call) {
  process.stderr.write(require('path').basename(self) + ': unexpected arguments ' + JSON.stringify(args) + '\\n');
  process.exit(99);
}
if (call.stderr) process.stderr.write(call.stderr);
if (call.hang) setInterval(() => {}, 1000);
else {
  const out = Array.isArray(call.stdout) ? call.stdout[Math.min(previous, call.stdout.length - 1)] : (call.stdout || '');
  if (call.bytes) process.stdout.write('x'.repeat(call.bytes));
  else process.stdout.write(out);
  process.exitCode = call.exit || 0;
}
`;

/** Writes `dir/program` answering `calls`; returns a reader of the calls it received. */
export function standIn(dir: string, program: string, calls: StandInCall[]): { calls(): Array<{ args: string[]; env: Record<string, string | null> }> } {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, program);
  writeFileSync(file, `#!${process.execPath}\n${SCRIPT}`);
  chmodSync(file, 0o755);
  writeFileSync(`${file}.json`, JSON.stringify(calls));
  writeFileSync(`${file}.log`, '');
  return {
    calls: () =>
      existsSync(`${file}.log`)
        ? readFileSync(`${file}.log`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { args: string[]; env: Record<string, string | null> })
        : [],
  };
}

/** PATH with the stand-ins first, then only what node and /bin/sh need. */
export function standInPath(dir: string): string {
  return [dir, dirname(process.execPath), '/usr/bin', '/bin'].join(':');
}

