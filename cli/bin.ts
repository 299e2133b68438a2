// The `deploy` program: what the bundled binary runs (scripts/postbuild.mjs),
// kept apart from cli/main.ts so that the tests import main() without running it.
import { readCliEnv } from './env.js';
import { main } from './main.js';

void main({ argv: process.argv.slice(2), env: readCliEnv(), stdout: process.stdout, stderr: process.stderr }).then((code) => {
  process.exitCode = code;
});
