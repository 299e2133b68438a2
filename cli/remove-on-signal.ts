// A file or directory the CLI must not leave behind even when it is stopped
// by a signal (Ctrl-C), which skips every `finally`: a decrypted dump, a
// half-downloaded backup. The signal then takes its usual course.
import { rmSync } from 'node:fs';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Removes `path` (recursively) if a signal stops the process; returns the function that disarms it. */
export function removeOnSignal(path: string): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    disarm();
    rmSync(path, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  const disarm = () => {
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return disarm;
}
