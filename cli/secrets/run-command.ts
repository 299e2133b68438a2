// The effect behind `$(command)` in secrets files: `/bin/sh -c` in the app
// directory, like Ruby's backticks under Kamal, but with stdin closed, a time
// limit and a cap on what it may print. stderr is discarded rather than shown:
// password-manager CLIs can print secrets there, and we cannot tell.
// runProgram is the same without a shell, for the vendor CLIs that the
// built-in `kamal secrets` adapters call with argv arrays.

import { spawn } from 'node:child_process';
import type { CommandRequest, CommandResult, RunCommand } from './substitute.js';

export interface ProgramRequest {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
}

export function runProgram(file: string, args: readonly string[], request: ProgramRequest): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;

    const child = spawn(file, args, {
      cwd: request.cwd,
      env: request.env,
      stdio: ['ignore', 'pipe', 'ignore'],
      // Its own process group, so a timeout also stops whatever it started.
      detached: true,
    });

    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };

    const finish = (result: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      resolve(result);
    };

    const timer = setTimeout(() => {
      killGroup();
      finish({ kind: 'timeout' });
    }, Math.max(1, request.timeoutMs));

    child.stdout?.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > request.maxOutputBytes) {
        killGroup();
        finish({ kind: 'too_large' });
        return;
      }
      chunks.push(chunk);
    });

    child.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'spawn_failed', reason: err.code ?? 'spawn error' }));

    child.on('close', (code, signal) => {
      let stdout: string | undefined;
      try {
        stdout = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        stdout = undefined;
      }
      if (code !== 0) {
        // What it printed anyway: Ruby's backticks (ERB) keep it, as Kamal sees it.
        finish({ kind: 'exit', code, signal, ...(stdout !== undefined ? { stdout } : {}) });
        return;
      }
      finish(stdout === undefined ? { kind: 'not_text' } : { kind: 'ok', stdout });
    });
  });
}

export const runShellCommand: RunCommand = (request: CommandRequest) => runProgram('/bin/sh', ['-c', request.command], request);
