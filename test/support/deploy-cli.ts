// Runs the real `deploy` CLI in a temporary app directory, the way a user would.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN } from './berth-host.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class AppDir {
  readonly dir: string;
  readonly keyFile: string;

  constructor(readonly name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `berth-app-${name}-`));
    this.keyFile = join(this.dir, '.operator-key.jwk');
  }

  writeConfig(yaml: string): void {
    writeFileSync(join(this.dir, 'deploy.yml'), yaml);
  }

  run(args: string[], opts: { keyFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
    return runCli(args, this.dir, { BERTH_KEY: opts.keyFile ?? this.keyFile, NO_COLOR: '1', ...opts.env });
  }

  /** Start a command without waiting, for concurrent pushes. */
  start(args: string[]): Promise<CliResult> {
    return this.run(args);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function runCli(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface AppConfig {
  service: string;
  image: string;
  servers: string[];
  host: string;
  deployTimeout?: number;
  drainTimeout?: number;
}

export function deployYml(c: AppConfig): string {
  return [
    `service: ${c.service}`,
    `image: ${c.image}`,
    'servers:',
    ...c.servers.map((s) => `  - ${s}`),
    'proxy:',
    `  host: ${c.host}`,
    '  app_port: 80',
    '  healthcheck:',
    '    path: /up',
    '    interval: 1',
    `deploy_timeout: ${c.deployTimeout ?? 20}`,
    `drain_timeout: ${c.drainTimeout ?? 20}`,
    '',
  ].join('\n');
}
