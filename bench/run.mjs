#!/usr/bin/env node
// Benchmarks (never part of a test run): each measurement is sampled a few
// times side by side in one run, and reported as a median and as a ratio to
// the first row, since ratios survive noisy machines better than absolutes.
//   npm run bench          (builds first)    node bench/run.mjs [--runs N]
// After the table: where one push spends its time (bench/push-split.mjs), the
// cron figures (bench/cron.mjs) and the router against nginx and Caddy
// (bench/router.mjs, also `npm run bench:router`).
// Uses the test engines and registry (scripts/provision-test-env.mjs).
import { parseArgs } from 'node:util';
import { envVars, provision, teardown } from '../scripts/provision-test-env.mjs';
import { bareDocker, bareDockerBerthNetwork } from './bare-docker.mjs';
import { cronFigures, renderCronFigures } from './cron.mjs';
import { pushSplit } from './push-split.mjs';
import { pushToServing } from './push-to-serving.mjs';
import { routerBench } from './router.mjs';
import { rollbackToServing } from './rollback-to-serving.mjs';
import { genericHookToServing, registryNotifyToServing } from './webhook-to-serving.mjs';

// Add measurements here: { name, sample(env) -> Promise<milliseconds> }.
// The first row is the floor every ratio is taken against.
const MEASUREMENTS = [bareDocker, bareDockerBerthNetwork, pushToServing, rollbackToServing, registryNotifyToServing, genericHookToServing];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function renderTable(rows) {
  const header = ['measurement', 'median ms', 'min ms', 'max ms', 'runs', 'ratio'];
  const base = rows[0]?.median;
  const cells = rows.map((r) => [
    r.name,
    r.error ? 'error' : r.median.toFixed(1),
    r.error ? '' : Math.min(...r.samples).toFixed(1),
    r.error ? '' : Math.max(...r.samples).toFixed(1),
    String(r.samples.length),
    r.error || !base ? '' : `${(r.median / base).toFixed(2)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  for (const r of rows) if (r.error) out.push(`${r.name}: ${r.error}`);
  return `${out.join('\n')}\n`;
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error('--runs must be 1..100');
  const env = await provision();
  Object.assign(process.env, envVars(env));
  const rows = [];
  let split = '';
  try {
    for (const m of MEASUREMENTS) {
      const samples = [];
      try {
        for (let i = 0; i < runs; i++) samples.push(await m.sample(env));
        rows.push({ name: m.name, samples, median: median(samples) });
      } catch (err) {
        rows.push({ name: m.name, samples, median: NaN, error: err instanceof Error ? err.message : String(err) });
      } finally {
        await m.cleanup?.();
      }
    }
    // Where a push's time goes, after the table it explains.
    split = await pushSplit(runs).catch((err) => `push split: ${err instanceof Error ? err.message : err}\n`);
    // The agent's cron: drift over 100 runs and RSS with 50 jobs (bench/cron.mjs).
    split += `\n${await cronFigures().then(renderCronFigures, (err) => `cron: ${err instanceof Error ? err.message : err}\n`)}`;
  } finally {
    if (process.env.BERTH_TEST_KEEP !== '1') await teardown();
  }
  // No Docker in it: after the teardown, so the engines do not share the cores it measures.
  split += `\n${await routerBench().catch((err) => `router: ${err instanceof Error ? err.message : err}\n`)}`;
  process.stdout.write(`${renderTable(rows)}\n${split}`);
}

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
