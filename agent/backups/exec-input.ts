// A command run in a container with a stored dump on its stdin: the file is
// decompressed as it is read and written at the pace the process reads it
// (Docker's connection pushes back); its output is read meanwhile (a process
// that fills its output pipe would otherwise stop reading its input) and
// only the last lines are kept, secret values replaced.
import { createReadStream } from 'node:fs';
import type { BackupCompression } from '../../shared/manifest-backups.js';
import { OutputTail, Redactor } from '../core/cron/output.js';
import type { DockerPort } from '../docker.js';
import { decompressStream } from './compression.js';

/** Bytes of output kept for a record or an error. */
export const EXEC_TAIL_BYTES = 4096;

export interface ExecResult {
  exitCode: number | null;
  /** The last output (stdout and stderr), secrets replaced. */
  output: string;
}

export interface ExecInput {
  containerId: string;
  argv: string[];
  user?: string | undefined;
  /** The dump fed on stdin (compressed as stored); absent: no input. */
  file?: { path: string; compression: BackupCompression };
  /** Secret values replaced in the output. */
  secrets: Record<string, string>;
  signal?: AbortSignal;
}

export async function execWithInput(docker: Pick<DockerPort, 'exec'>, input: ExecInput): Promise<ExecResult> {
  const session = await docker.exec(input.containerId, input.argv, { tty: false, stdin: input.file !== undefined, ...(input.user ? { user: input.user } : {}) });
  const redactor = new Redactor(input.secrets);
  const tail = new OutputTail(EXEC_TAIL_BYTES);
  const onAbort = () => session.close();
  input.signal?.addEventListener('abort', onAbort);
  try {
    const reading = (async () => {
      for await (const chunk of session.output) tail.append(redactor.push(chunk.data.toString('utf8')));
      tail.append(redactor.flush());
    })();
    let fed: Error | undefined;
    if (input.file) {
      try {
        const plain = createReadStream(input.file.path).pipe(decompressStream(input.file.compression));
        for await (const chunk of plain) {
          if (input.signal?.aborted) throw new Error('aborted');
          if (session.send) await session.send(chunk as Buffer);
          else session.write(chunk as Buffer);
        }
      } catch (err) {
        // The process may have exited early (it refused the input): its exit code and output say why.
        fed = err instanceof Error ? err : new Error(String(err));
      } finally {
        session.endInput();
      }
    }
    await reading;
    const exitCode = await session.exitCode();
    const output = tail.text();
    if (fed && exitCode === 0) throw new Error(`the dump could not be fed to the command: ${fed.message}`);
    return { exitCode, output };
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    await session.dispose();
  }
}

/** The last `n` lines of output. */
export function lastLines(text: string, n = 20): string {
  return text.replace(/\s+$/, '').split('\n').slice(-n).join('\n');
}
