#!/usr/bin/env node
// Build step (scripts/postbuild.mjs): V8's code cache of a CommonJS bundle,
// taken after the bundle ran one command, so it holds the functions that
// command compiled as well as the top level.
//   node scripts/code-cache.mjs BUNDLE CACHE DIR [ARGS...]   (runs in DIR)
// The bundle's exit code is not ours to judge; the cache is written on exit.
import { readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

const [bundle, cache, dir, ...args] = process.argv.slice(2);
const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle });
process.chdir(dir);
process.argv = [process.argv[0], bundle, ...args];
process.on('exit', () => writeFileSync(cache, script.createCachedData(), { mode: 0o644 }));
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
