#!/usr/bin/env node
// After tsc: bundle each binary into one file (dist/bin/deploy.js,
// dist/bin/berth-agent.js), so start-up reads one file instead of resolving
// hundreds of modules; a push spends most of its CLI time starting. The tsc
// output stays for the tests, which import its modules.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bin');

const BINARIES = {
  // The CLI starts for every command: no source-map parsing on the way (20 ms
  // for its map); run it with NODE_OPTIONS=--enable-source-maps to map a stack.
  deploy: { entry: 'cli/main.ts', node: 'node' },
  // Starts once per boot; its logged stack traces name the TypeScript sources.
  'berth-agent': { entry: 'agent/main.ts', node: 'node --enable-source-maps' },
};

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
  await esbuild.build({
    entryPoints: { [name]: path.join(root, bin.entry) },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    plugins: [withoutZodLocales],
    // Whitespace and syntax only: identifiers keep their names, so a stack
    // trace without the map still names the functions.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    // The bundled CommonJS dependencies (dockerode and its stack) call require.
    banner: {
      js: "import { createRequire as __berthCreateRequire } from 'node:module';\nconst require = __berthCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  // esbuild keeps the entry's `#!/usr/bin/env node`; one line for another
  // leaves the source map's lines valid. 0755: run directly through the links.
  const file = path.join(outdir, `${name}.js`);
  const code = fs.readFileSync(file, 'utf8');
  if (!code.startsWith('#!')) throw new Error(`${bin.entry} has no #! line`);
  fs.writeFileSync(file, `#!/usr/bin/env -S ${bin.node}${code.slice(code.indexOf('\n'))}`, { mode: 0o755 });
  fs.chmodSync(file, 0o755);
}
