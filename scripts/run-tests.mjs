#!/usr/bin/env node
// Test runner: node --test with an explicit list of compiled test files
// (Node 20 would otherwise run every .js under a test/ folder, support code
// included), and, for integration and e2e tests, the shared fixtures that
// node:test has no global setup for: engines, registry, images.
//
//   node scripts/run-tests.mjs                 all suites
//   node scripts/run-tests.mjs unit            one or more of unit|integration|e2e|security
//   node scripts/run-tests.mjs dist/test/integration/harness.test.js  (or test/....test.ts)
//
// BERTH_TEST_KEEP=1 leaves the engines and registry running afterwards.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, envVars, provision, teardown } from './provision-test-env.mjs';

const DIST_TEST = path.join(ROOT, 'dist', 'test');
// security/ is the attack table: each file names the property it protects and
// runs the attack against real agents, routers and engines.
const SUITES = ['unit', 'integration', 'e2e', 'security'];
const NEEDS_FIXTURES = new Set(['integration', 'e2e', 'security']);

function testFilesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (full !== path.join(DIST_TEST, 'support')) out.push(...testFilesUnder(full));
    } else if (entry.isFile() && entry.name.endsWith('.test.js')) {
      out.push(full);
    }
  }
  return out.sort();
}

/** The suite a compiled test belongs to: its first folder under dist/test. */
function suiteOf(file) {
  const first = path.relative(DIST_TEST, file).split(path.sep)[0];
  return SUITES.includes(first) ? first : 'unit';
}

/** `test/a/b.test.ts` and `dist/test/a/b.test.js` both name dist/test/a/b.test.js. */
function compiledPath(arg) {
  let p = path.resolve(arg);
  const rel = path.relative(ROOT, p);
  if (rel.startsWith(`test${path.sep}`)) p = path.join(ROOT, 'dist', rel);
  return p.replace(/\.ts$/, '.js');
}

function selectFiles(args) {
  const all = testFilesUnder(DIST_TEST);
  if (all.length === 0) throw new Error(`no compiled tests under ${DIST_TEST}; run \`npm run build\` first`);
  if (args.length === 0) return all;
  const chosen = new Set();
  for (const arg of args) {
    if (SUITES.includes(arg)) {
      for (const f of all) if (suiteOf(f) === arg) chosen.add(f);
      continue;
    }
    const file = compiledPath(arg);
    if (!file.endsWith('.test.js') || !fs.existsSync(file)) {
      throw new Error(`no compiled test file for ${arg} (looked for ${path.relative(ROOT, file)}); build first`);
    }
    chosen.add(file);
  }
  return [...chosen].sort();
}

/** Whether a compiled test uses the PostgreSQL image (imports its support module): only then is it provisioned. */
function needsPostgres(files) {
  return files.some((f) => fs.readFileSync(f, 'utf8').includes('support/postgres.js'));
}

let child = null;
let interrupted = null;

function runNodeTest(files, extraArgs, env) {
  return new Promise((resolve) => {
    child = spawn(process.execPath, ['--test', ...extraArgs, ...files], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    child.on('exit', (code, signal) => {
      child = null;
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted = sig;
    // The child may already have it (a terminal sends SIGINT to the group).
    if (child) child.kill(sig);
  });
}

async function main() {
  const files = selectFiles(process.argv.slice(2));
  const plain = files.filter((f) => !NEEDS_FIXTURES.has(suiteOf(f)));
  const withFixtures = files.filter((f) => NEEDS_FIXTURES.has(suiteOf(f)));
  let exitCode = 0;

  if (plain.length > 0) {
    exitCode = await runNodeTest(plain, [], { BERTH_TEST_ROOT: ROOT });
  }
  if (withFixtures.length > 0 && !interrupted) {
    try {
      const env = await provision({ postgres: needsPostgres(withFixtures) });
      if (!interrupted) {
        const code = await runNodeTest(withFixtures, ['--test-concurrency=1', '--test-timeout=600000'], envVars(env));
        exitCode ||= code;
      }
    } catch (err) {
      console.error(`run-tests: ${err instanceof Error ? err.message : err}`);
      exitCode ||= 1;
    } finally {
      if (process.env.BERTH_TEST_KEEP === '1') {
        console.error('run-tests: BERTH_TEST_KEEP=1, leaving the test engines and registry running');
      } else {
        await teardown().catch((err) => console.error(`run-tests: teardown failed: ${err.message}`));
      }
    }
  }
  if (interrupted) exitCode = 130;
  process.exit(exitCode);
}

main().catch((err) => {
  console.error(`run-tests: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
