#!/usr/bin/env node
// After tsc: make the two bins executable (tsc writes files 0644), so the
// links install.sh and npm create can be run directly.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

for (const bin of ['dist/cli/main.js', 'dist/agent/main.js']) {
  const file = path.join(root, bin);
  if (fs.existsSync(file)) fs.chmodSync(file, 0o755);
}
