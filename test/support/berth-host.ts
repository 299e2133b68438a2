// A Berth "server" for e2e tests: a real berth-agent and a real router process
// on their own loopback address, talking to one of the harness's Docker engines.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from './wait.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
// The bundled binaries (scripts/postbuild.mjs), as installed.
export const AGENT_BIN = join(REPO_ROOT, 'dist/bin/berth-agent.js');
export const CLI_BIN = join(REPO_ROOT, 'dist/bin/deploy.js');

export interface Engine {
  host: string;
  subnet: string;
}

export interface ManagedProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
}

export function startProcess(args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, pid: child.pid!, output: () => out, exited };
}

export async function waitForPort(host: string, port: number, timeoutMs = 20_000, proc?: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) throw new Error(`process exited early:\n${proc.output()}`);
    const ok = await new Promise<boolean>((res) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms${proc ? `\n${proc.output()}` : ''}`);
}

function portAccepts(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      res(true);
    });
    s.on('error', () => res(false));
  });
}

export async function waitForFile(path: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return;
    await sleep(100);
  }
  throw new Error(`${path} did not appear within ${timeoutMs} ms`);
}

let nextPort = 20000 + (process.pid % 2000) * 10;

export interface BerthHostOptions {
  ip: string;
  engine: Engine;
  agentEnv?: NodeJS.ProcessEnv;
  /** The router's HTTP port, when a test must know it before the host starts (an ACME server validates there). */
  httpPort?: number;
}

/** One agent + router pair bound to `ip`, with its own state dir. */
export class BerthHost {
  readonly ip: string;
  readonly engine: Engine;
  readonly stateDir: string;
  readonly agentPort: number;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly routerSocket: string;
  agent: ManagedProcess | undefined;
  router: ManagedProcess | undefined;

  constructor(opts: BerthHostOptions) {
    this.ip = opts.ip;
    this.engine = opts.engine;
    this.stateDir = mkdtempSync(join(tmpdir(), 'berth-host-'));
    this.agentPort = nextPort++;
    this.httpPort = opts.httpPort ?? nextPort++;
    this.httpsPort = nextPort++;
    this.routerSocket = join(this.stateDir, 'router.sock');
  }

  /** The `servers:` entry a deploy.yml uses to reach this host's agent. */
  get server(): string {
    return `${this.ip}:${this.agentPort}`;
  }

  async init(extra: string[] = []): Promise<string> {
    const p = startProcess([AGENT_BIN, 'init', '--state-dir', this.stateDir, '--san', this.ip, ...extra]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`berth-agent init failed (${code}):\n${p.output()}`);
    return p.output();
  }

  async trust(line: string, scope = 'deploy'): Promise<void> {
    const p = startProcess([AGENT_BIN, 'trust', 'add', line, '--scope', scope, '--state-dir', this.stateDir]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`berth-agent trust add failed (${code}):\n${p.output()}`);
  }

  async startRouter(env: NodeJS.ProcessEnv = {}): Promise<ManagedProcess> {
    this.router = startProcess(
      [
        AGENT_BIN, 'router', '--state-dir', this.stateDir,
        '--http-listen', `${this.ip}:${this.httpPort}`, '--https-listen', `${this.ip}:${this.httpsPort}`,
        '--router-socket', this.routerSocket,
      ],
      env,
    );
    await waitForPort(this.ip, this.httpPort, 20_000, this.router);
    return this.router;
  }

  async startAgent(env: NodeJS.ProcessEnv = {}): Promise<ManagedProcess> {
    this.agent = startProcess(
      [
        AGENT_BIN, 'run', '--state-dir', this.stateDir, '--listen', `${this.ip}:${this.agentPort}`,
        '--docker-host', this.engine.host, '--router-socket', this.routerSocket,
        '--network-subnet', this.engine.subnet,
      ],
      env,
    );
    await waitForPort(this.ip, this.agentPort, 30_000, this.agent);
    return this.agent;
  }

  async start(agentEnv: NodeJS.ProcessEnv = {}, routerEnv: NodeJS.ProcessEnv = {}): Promise<void> {
    await this.init();
    await this.startRouter(routerEnv);
    await this.startAgent(agentEnv);
  }

  /** SIGKILL the agent (crash) and wait until it is gone. */
  async killAgent(): Promise<void> {
    if (!this.agent) return;
    this.agent.child.kill('SIGKILL');
    await this.agent.exited;
  }

  async killRouter(): Promise<void> {
    if (!this.router) return;
    this.router.child.kill('SIGKILL');
    await this.router.exited;
    // With BERTH_ROUTER_WORKERS the workers outlive a killed primary by up to 2 s (systemd waits for them too).
    await waitFor(`${this.ip}:${this.httpPort} closed after the router was killed`, async () => !(await portAccepts(this.ip, this.httpPort)), 10_000, { intervalMs: 100 });
  }

  /** GET through this host's router with a Host header. */
  // node:http, not fetch: undici does not let a caller set the Host header.
  get(host: string, path = '/'): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: this.ip, port: this.httpPort, path, headers: { host }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    });
  }

  pausedAt(state: string): string {
    return join(this.stateDir, `paused-at-${state}`);
  }

  agentLog(): string {
    return this.agent?.output() ?? '';
  }

  async stop(): Promise<void> {
    for (const p of [this.agent, this.router]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
        await p.exited;
        clearTimeout(t);
      }
    }
  }

  cleanup(): void {
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  readFile(rel: string): string {
    return readFileSync(join(this.stateDir, rel), 'utf8');
  }
}
