// An encrypted restore keeps the decrypted dump in a temp directory, a
// download its half-written .part file; a Ctrl-C (or SIGTERM) skips every
// `finally`, so they are removed by the signal itself, and the process still
// ends by that signal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const action = fileURLToPath(new URL('../../../cli/remove-on-signal.js', import.meta.url));

for (const [signal, what] of [['SIGINT', 'directory'], ['SIGTERM', 'file']] as const) {
  test(`${signal} removes the armed ${what} and ends the process by the signal`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-restore-signal-'));
    writeFileSync(join(dir, 'plain'), 'decrypted dump', { mode: 0o600 });
    const armed = what === 'directory' ? dir : join(dir, 'plain');
    const script = `const { removeOnSignal } = await import(${JSON.stringify(action)}); removeOnSignal(${JSON.stringify(armed)}); console.log('armed'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
    child.kill(signal);
    assert.equal(await ended, signal);
    assert.ok(!existsSync(armed), `the ${what} is gone`);
  });
}
