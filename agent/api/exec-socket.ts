// The interactive exec protocol over a WebSocket (docs/internals.md):
// client → agent binary frames are stdin, text frames are JSON control
// ({"type":"resize","cols","rows"} or {"type":"eof"}); agent → client binary
// frames are output, then a text frame {"type":"exit","code":N} and close 1000.
// A failure after the upgrade is a text frame {"type":"error","message"} and
// close 1011. The process is stopped (its container removed) when the client goes.
import { isBerthError } from '../../shared/errors.js';
import type { ProcessSession } from '../docker.js';
import type { Logger } from '../log.js';
import type { WsHandlers, WsPeer } from './websocket.js';

/** Input buffered while the process starts; a client that sends more is not interactive. */
const MAX_PENDING_BYTES = 1024 * 1024;
const MAX_CONTROL_CHARS = 1024;
const MAX_TERMINAL = 10_000;
/** Output queued for a slow client past which the process is not read until the socket drained. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface InteractiveExec {
  start(): Promise<ProcessSession>;
  log: Logger;
  /** Called once, when the run is over (exit code null when unknown or cut short). */
  done(exitCode: number | null): void;
}

type Input = { kind: 'data'; data: Uint8Array } | { kind: 'eof' } | { kind: 'resize'; cols: number; rows: number };

export function interactiveExec(x: InteractiveExec): WsHandlers {
  let session: ProcessSession | undefined;
  let closed = false;
  let finished = false;
  const pending: Input[] = [];
  let pendingBytes = 0;

  const finish = (exitCode: number | null) => {
    if (finished) return;
    finished = true;
    x.done(exitCode);
  };

  const apply = (s: ProcessSession, input: Input) => {
    if (input.kind === 'data') s.write(input.data);
    else if (input.kind === 'eof') s.endInput();
    else s.resize(input.cols, input.rows).catch(() => undefined);
  };

  const deliver = (input: Input, peer: WsPeer) => {
    if (session) return apply(session, input);
    if (input.kind === 'data') pendingBytes += input.data.length;
    if (pendingBytes > MAX_PENDING_BYTES) return fail(peer, 'too much input before the command started');
    pending.push(input);
  };

  // Ends the session as a client leaving would; with no process yet, run()
  // stops it when it arrives, so a command that started is still reported done.
  const fail = (peer: WsPeer, message: string) => {
    if (closed) return;
    closed = true;
    peer.send(JSON.stringify({ type: 'error', message }));
    peer.close(1011, 'exec failed');
    if (session) {
      void session.dispose();
      finish(null);
    }
  };

  const run = async (peer: WsPeer) => {
    let s: ProcessSession;
    try {
      s = await x.start();
    } catch (err) {
      x.log.warn('interactive exec could not start', { err: err instanceof Error ? err.message : String(err) });
      // Our own errors are written for the operator; anything else (Docker's) may say more than it should.
      fail(peer, isBerthError(err) ? err.message : 'the command could not be started; see the agent log');
      return finish(null);
    }
    session = s;
    if (closed) {
      await s.dispose();
      return finish(null);
    }
    for (const input of pending.splice(0)) apply(s, input);
    let exitCode: number | null = null;
    try {
      for await (const chunk of s.output) {
        if (closed) break;
        peer.send(chunk.data);
        // Not reading pauses the process (its output pipe fills), so `yes` cannot fill the agent's memory.
        if (peer.bufferedAmount() > MAX_BUFFERED_BYTES) await peer.drained();
      }
      if (!closed) exitCode = await s.exitCode();
    } finally {
      await s.dispose();
      finish(exitCode);
    }
    if (!closed) {
      peer.send(JSON.stringify({ type: 'exit', code: exitCode }));
      peer.close(1000, 'exited');
    }
  };

  return {
    onOpen(peer) {
      void run(peer).catch((err: unknown) => x.log.error('interactive exec failed', { err }));
    },
    onMessage(data, peer) {
      if (closed || finished) return;
      if (typeof data !== 'string') return deliver({ kind: 'data', data }, peer);
      const control = parseControl(data);
      if (!control) return fail(peer, 'a text frame must be {"type":"resize","cols":N,"rows":N} or {"type":"eof"}');
      deliver(control, peer);
    },
    onClose() {
      closed = true;
      // With no session yet, run() disposes of it when it arrives.
      if (session) {
        void session.dispose();
        finish(null);
      }
    },
  };
}

function parseControl(text: string): Input | undefined {
  if (text.length > MAX_CONTROL_CHARS) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = value as { type?: unknown; cols?: unknown; rows?: unknown } | null;
  if (o?.type === 'eof' && Object.keys(o).length === 1) return { kind: 'eof' };
  if (o?.type === 'resize' && Object.keys(o).length === 3) {
    const ok = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_TERMINAL;
    if (ok(o.cols) && ok(o.rows)) return { kind: 'resize', cols: o.cols, rows: o.rows };
  }
  return undefined;
}
