// deploy exec -i: the CLI end of the interactive exec WebSocket (the one CLI
// file that imports `ws`). The connection is pinned like every request (ca +
// fingerprint check) and the upgrade request is signed. With a local terminal
// it goes raw and forwards resizes; without one, piped stdin is sent and its
// end becomes {"type":"eof"}.
import WebSocket from 'ws';
import { UpstreamError } from '../shared/errors.js';
import { connectionError, type AgentClient } from './agent-api/client.js';

const HANDSHAKE_TIMEOUT_MS = 15_000;
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

export interface TerminalIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown; pause(): unknown; resume(): unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number; on(event: 'resize', fn: () => void): unknown; off(event: 'resize', fn: () => void): unknown };
  stderr: NodeJS.WritableStream;
}

function processIo(): TerminalIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/** Runs the remote command to its end; resolves with its exit code. */
export async function runInteractive(client: AgentClient, path: string, params: URLSearchParams, io: TerminalIo = processIo()): Promise<number> {
  const tty = io.stdin.isTTY === true && io.stdout.isTTY === true && typeof io.stdin.setRawMode === 'function';
  if (tty) params.set('tty', '1');
  const { url, headers, tls } = await client.socketOptions(`${path}?${params.toString()}`);
  const ws = new WebSocket(url, { headers, ...tls, perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });

  return new Promise<number>((resolve, reject) => {
    let exitCode: number | null | undefined;
    let failure: Error | undefined;
    let opened = false;
    const onData = (d: Buffer | string) => ws.readyState === WebSocket.OPEN && ws.send(typeof d === 'string' ? Buffer.from(d) : d, { binary: true });
    const onEnd = () => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'eof' }));
    const resize = () => {
      if (ws.readyState === WebSocket.OPEN && io.stdout.columns && io.stdout.rows) {
        ws.send(JSON.stringify({ type: 'resize', cols: io.stdout.columns, rows: io.stdout.rows }));
      }
    };
    const restore = () => {
      io.stdin.off('data', onData);
      io.stdin.off('end', onEnd);
      if (tty) {
        io.stdout.off('resize', resize);
        io.stdin.setRawMode?.(false);
      }
      io.stdin.pause();
    };

    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_ERROR_BODY) chunks.push(c);
      });
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        failure = client.errorFrom(res.statusCode ?? 0, body);
        ws.terminate();
      });
      res.on('error', () => ws.terminate());
    });
    ws.on('error', (err) => {
      failure ??= connectionError(err, client.label, HANDSHAKE_TIMEOUT_MS);
    });
    ws.on('open', () => {
      opened = true;
      if (tty) {
        io.stdin.setRawMode?.(true);
        io.stdout.on('resize', resize);
        resize();
      }
      io.stdin.on('data', onData);
      io.stdin.on('end', onEnd);
      io.stdin.resume();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        io.stdout.write(data);
        return;
      }
      let control: { type?: unknown; code?: unknown; message?: unknown };
      try {
        control = JSON.parse(data.toString('utf8')) as typeof control;
      } catch {
        return;
      }
      if (control.type === 'exit') exitCode = typeof control.code === 'number' ? control.code : null;
      else if (control.type === 'error') failure = new UpstreamError(`${client.label}: ${typeof control.message === 'string' ? control.message : 'the command failed'}`);
    });
    ws.on('close', () => {
      if (opened) restore();
      if (failure) return reject(failure);
      if (exitCode === undefined) return reject(new UpstreamError(`the connection to ${client.label} closed before the command ended`, undefined, 'unreachable'));
      if (exitCode === null) {
        io.stderr.write(`${client.label}: the agent could not tell the command's exit code\n`);
        return resolve(1);
      }
      resolve(exitCode);
    });
  });
}
