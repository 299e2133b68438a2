// Child processes for tests (agents, routers, the CLI): output captured,
// waits for a line / URL / port / file, and nothing outlives the test file.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

const MAX_OUTPUT = 4 * 1024 * 1024;
const live = new Set<ChildProcess>();

// Each test file runs in its own process: whatever it spawned dies with it.
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Added to (or, with `cleanEnv`, instead of) this process's environment; undefined unsets. */
  env?: Record<string, string | undefined>;
  cleanEnv?: boolean;
  cwd?: string;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** A test context (or anything with `after`): the process is killed when it ends. */
  t?: { after(fn: () => unknown): void };
}

export interface SpawnedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** stdout and stderr interleaved as they arrived (last 4 MiB). */
  output(): string;
  stdout(): string;
  stderr(): string;
  running(): boolean;
  /** Resolves with the first output line that contains / matches `pattern`. */
  waitForLine(pattern: string | RegExp, opts?: { timeoutMs?: number }): Promise<string>;
  /** Resolves once an HTTP GET of `url` gets an answer (any status unless `status` is given). */
  waitForUrl(url: string, opts?: { timeoutMs?: number; status?: number }): Promise<void>;
  waitForPort(port: number, host?: string, opts?: { timeoutMs?: number }): Promise<void>;
  waitForFile(file: string, opts?: { timeoutMs?: number }): Promise<void>;
  waitForExit(opts?: { timeoutMs?: number }): Promise<Exit>;
  /** `signal` (default SIGTERM), then SIGKILL after `graceMs` (default 10 s). */
  kill(signal?: NodeJS.Signals, opts?: { graceMs?: number }): Promise<Exit>;
  killHard(): Promise<Exit>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function clip(s: string): string {
  return s.length > MAX_OUTPUT ? s.slice(s.length - MAX_OUTPUT) : s;
}

export function spawnProcess(cmd: string, args: string[], opts: SpawnOptions = {}): SpawnedProcess {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...(opts.cleanEnv ? {} : process.env), ...opts.env })) {
    if (v !== undefined) env[k] = v;
  }
  const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  live.add(child);
  let all = '';
  let out = '';
  let err = '';
  let exit: Exit | null = null;
  const listeners = new Set<() => void>();
  const notify = () => { for (const l of listeners) l(); };

  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out = clip(out + d); all = clip(all + d); notify(); });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err = clip(err + d); all = clip(all + d); notify(); });
  child.stdin!.on('error', () => {});
  child.stdin!.end(opts.input ?? '');

  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      resolve(exit);
      notify();
    });
  });
  const name = `${cmd} ${args.join(' ')}`.slice(0, 120);
  const describe = () => `${name}\n--- output (last 2000 chars) ---\n${all.slice(-2000)}`;

  /** Resolves when `check` gives a value; rejects on exit or timeout. */
  function until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (fn: () => void) => { clearTimeout(timer); listeners.delete(onChange); fn(); };
      const onChange = () => {
        const value = check();
        if (value !== undefined) done(() => resolve(value));
        else if (exit) done(() => reject(new Error(`process exited (${JSON.stringify(exit)}) before ${what}: ${describe()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${describe()}`))), timeoutMs);
      listeners.add(onChange);
      onChange();
    });
  }

  /** Polls an async probe until it succeeds, the process exits, or time runs out. */
  async function poll(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await probe().catch(() => false)) return;
      if (exit) throw new Error(`process exited (${JSON.stringify(exit)}) before ${what}: ${describe()}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${describe()}`);
      await sleep(100);
    }
  }

  const handle: SpawnedProcess = {
    pid: child.pid,
    child,
    exited,
    output: () => all,
    stdout: () => out,
    stderr: () => err,
    running: () => exit === null,
    waitForLine(pattern, { timeoutMs = 30_000 } = {}) {
      const matches = (line: string) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
      return until(`a line matching ${String(pattern)}`, () => all.split('\n').find(matches), timeoutMs);
    },
    waitForUrl(url, { timeoutMs = 30_000, status } = {}) {
      return poll(`${url} to answer`, async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
        await res.body?.cancel();
        return status === undefined || res.status === status;
      }, timeoutMs);
    },
    waitForPort(port, host = '127.0.0.1', { timeoutMs = 30_000 } = {}) {
      return poll(`${host}:${port} to accept connections`, () => canConnect(host, port), timeoutMs);
    },
    waitForFile(file, { timeoutMs = 30_000 } = {}) {
      return poll(`${file} to exist`, async () => fs.existsSync(file), timeoutMs);
    },
    async waitForExit({ timeoutMs = 30_000 } = {}) {
      await until('exit', () => (exit ? true : undefined), timeoutMs).catch((e: Error) => {
        if (!exit) throw e;
      });
      return exited;
    },
    async kill(signal = 'SIGTERM', { graceMs = 10_000 } = {}) {
      if (exit) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    killHard() {
      if (!exit) child.kill('SIGKILL');
      return exited;
    },
  };
  opts.t?.after(() => handle.kill());
  return handle;
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2000, () => { socket.destroy(); resolve(false); });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** A TCP port free on `host` right now (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** `GET /` over a plain socket to 127.0.0.1:port (HTTP/1.0, no Host of any app): the body, for ports a container publishes itself. */
export function rawGetBody(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.end('GET / HTTP/1.0\r\nHost: x\r\n\r\n'));
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('end', () => resolve(data.split('\r\n\r\n').slice(1).join('\r\n\r\n')));
    sock.on('error', reject);
  });
}
