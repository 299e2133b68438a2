#!/usr/bin/env node
// After tsc: bundle each binary into one file (dist/bin/deploy.js,
// dist/bin/berth-agent.js), so start-up reads one file instead of resolving
// hundreds of modules; a push spends most of its CLI time starting. The tsc
// output stays for the tests, which import its modules.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bin');

const BINARIES = {
  // The CLI starts for every command: no source-map parsing on the way (20 ms
  // for its map); run it with NODE_OPTIONS=--enable-source-maps to map a stack.
  // CommonJS, run through a code cache (see CODE_CACHED below).
  deploy: { entry: 'cli/bin.ts', node: 'node', codeCache: true },
  // Starts once per boot; its logged stack traces name the TypeScript sources.
  // dist/bin/berth-agent.js is a launcher (AGENT_LAUNCHER) that loads this
  // bundle, or the router's for `berth-agent router`.
  'berth-agent': { entry: 'agent/main.ts', node: 'node --enable-source-maps', outfile: 'berth-agent-main.js' },
  // The router alone, a third of the agent's code: its process holds about
  // 20 MiB less. Run without its map (AGENT_LAUNCHER); the map lists no
  // sources, which stack traces do not need.
  'berth-router': { entry: 'agent/router/bin.ts', node: 'node --enable-source-maps', sourcesContent: false },
};

// The router's stack traces name the bundle's lines (functions keep their
// names): Node builds a map's whole index the first time it formats a stack,
// and its streams format one for every request a client aborts; that index
// held about 17 MiB for good. \`node --enable-source-maps berth-router.js router\`
// maps them.
const AGENT_LAUNCHER = `#!/usr/bin/env -S node --enable-source-maps
// berth-agent: the router runs from its own bundle, the other commands from the agent's (scripts/postbuild.mjs).
if (process.argv[2] === 'router') {
  process.setSourceMapsEnabled(false);
  await import('./berth-router.js');
} else {
  await import('./berth-agent-main.js');
}
`;

// A code-cached binary is NAME.cjs (the bundle), NAME.cache (V8's code cache
// of it, made here after one run of `deploy config`) and NAME.js, which runs
// the bundle with the cache: start-up then skips most of compiling 800 kB
// (about 40 ms of `deploy config`; Node 20 has no module compile cache, and
// vm.Script takes cached data for CommonJS only). The cache is only read at
// run time, never written. V8 checks it against its version, flags and the
// source, and compiles as usual when it does not fit (another Node, a
// missing file).
const codeCachedLauncher = (name, node) => `#!/usr/bin/env -S ${node}
// Runs ${name}.cjs with V8's code cache made at build time (scripts/postbuild.mjs).
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const file = fileURLToPath(new URL('./${name}.cjs', import.meta.url));
let cachedData;
try {
  cachedData = readFileSync(fileURLToPath(new URL('./${name}.cache', import.meta.url)));
} catch {
  // Without a cache the bundle is compiled as any script is.
}
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData ? { cachedData } : {}) });
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
`;

// What the cache is made from: a command that loads and checks a config.
const CACHE_RUN_CONFIG = 'service: demo\nimage: registry.example.com/demo/web:v1\nservers:\n  - 192.0.2.10\nproxy:\n  host: demo.example.com\n  app_port: 8080\nenv:\n  clear:\n    GREETING: hi\n';

// Native modules, and dockerode's optional native SSH transport, load from node_modules.
const EXTERNAL = ['better-sqlite3', 'ssh2', 'cpu-features'];

// zod's namespace object re-exports all of its 60-odd locales (300 kB, 10 ms of
// start-up). Berth never switches locale, and zod imports its default English
// one directly (zod/v4/classic/schemas.js), so the index of the others is empty here.
const withoutZodLocales = {
  name: 'without-zod-locales',
  setup(build) {
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'berth-empty' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'berth-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

fs.rmSync(outdir, { recursive: true, force: true });
for (const [name, bin] of Object.entries(BINARIES)) {
  const file = path.join(outdir, bin.outfile ?? `${name}.js`);
  await esbuild.build({
    entryPoints: [path.join(root, bin.entry)],
    outfile: bin.codeCache ? path.join(outdir, `${name}.cjs`) : file,
    bundle: true,
    platform: 'node',
    format: bin.codeCache ? 'cjs' : 'esm',
    target: 'node20',
    external: EXTERNAL,
    plugins: [withoutZodLocales],
    // Whitespace and syntax only: identifiers keep their names, so a stack
    // trace without the map still names the functions.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    sourcesContent: bin.sourcesContent ?? true,
    // The bundled CommonJS dependencies (dockerode and its stack) call require.
    ...(bin.codeCache ? {} : {
      banner: {
        js: "import { createRequire as __berthCreateRequire } from 'node:module';\nconst require = __berthCreateRequire(import.meta.url);",
      },
    }),
    logLevel: 'warning',
  });
  if (bin.codeCache) {
    fs.writeFileSync(file, codeCachedLauncher(name, bin.node), { mode: 0o755 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-code-cache-'));
    try {
      fs.writeFileSync(path.join(dir, 'deploy.yml'), CACHE_RUN_CONFIG);
      const cache = path.join(outdir, `${name}.cache`);
      const run = spawnSync(process.execPath, [path.join(root, 'scripts', 'code-cache.mjs'), path.join(outdir, `${name}.cjs`), cache, dir, 'config'], {
        encoding: 'utf8',
        env: { ...process.env, XDG_CONFIG_HOME: dir, NO_COLOR: '1' },
      });
      if (!fs.existsSync(cache)) throw new Error(`no code cache for ${name}: ${run.stderr}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } else {
    // esbuild keeps the entry's `#!/usr/bin/env node`; one line for another
    // leaves the source map's lines valid. 0755: run directly through the links.
    const code = fs.readFileSync(file, 'utf8');
    if (!code.startsWith('#!')) throw new Error(`${bin.entry} has no #! line`);
    fs.writeFileSync(file, `#!/usr/bin/env -S ${bin.node}${code.slice(code.indexOf('\n'))}`, { mode: 0o755 });
  }
  fs.chmodSync(file, 0o755);
}
fs.writeFileSync(path.join(outdir, 'berth-agent.js'), AGENT_LAUNCHER, { mode: 0o755 });
