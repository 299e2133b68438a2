// How a berth-agent command ends: its exit code, or its error printed once on
// stderr (usage errors exit 2). Shared by the agent's bundle (agent/main.ts)
// and the router's own (agent/router/bin.ts).
import { isBerthError } from '../shared/errors.js';

function render(e: unknown): string {
  if (isBerthError(e)) return `berth-agent: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`;
  return `berth-agent: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
}

export function exitWith(command: Promise<number>): void {
  command.then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(render(e));
      process.exit(isBerthError(e) && e.code === 'usage' ? 2 : 1);
    },
  );
}
