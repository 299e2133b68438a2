// The usual e2e setup: one Berth host with a trusted operator and a pinned
// app directory, ready for `deploy push`.
import { testEnv } from './env.js';
import { containersByLabel, docker } from './docker-cli.js';
import { BerthHost, type Engine } from './berth-host.js';
import { AppDir, deployYml } from './deploy-cli.js';
import { splitRef } from './registry.js';

export interface E2eApp {
  service: string;
  hostHeader: string;
  hosts: BerthHost[];
  app: AppDir;
  /** The public key line of the app's operator key. */
  keyLine: string;
  image(tag: string): string;
  configure(tag: string, extra?: string): void;
  push(version: string, args?: string[]): ReturnType<AppDir['run']>;
  containers(engine?: Engine): ReturnType<typeof containersByLabel>;
  teardown(): Promise<void>;
}

export async function setupApp(service: string, opts: { ips?: string[]; engines?: Engine[]; agentEnv?: NodeJS.ProcessEnv; routerEnv?: NodeJS.ProcessEnv; httpPorts?: number[] } = {}): Promise<E2eApp> {
  const env = testEnv();
  const ips = opts.ips ?? ['127.0.0.2'];
  const engines = opts.engines ?? ips.map(() => env.engines[0]!);
  const hosts = ips.map((ip, i) => new BerthHost({ ip, engine: engines[i]!, ...(opts.httpPorts?.[i] ? { httpPort: opts.httpPorts[i] } : {}) }));
  for (const h of hosts) await h.start(opts.agentEnv, opts.routerEnv);
  const app = new AppDir(service);
  const keys = await app.run(['keys', 'new']);
  if (keys.code !== 0) throw new Error(`deploy keys new failed: ${keys.stderr}`);
  const keyLine = keys.stdout.trim();
  for (const h of hosts) await h.trust(keyLine);
  const { registry, repo } = splitRef(env.images.v1);
  const hostHeader = `${service}.test`;
  const e2e: E2eApp = {
    service,
    hostHeader,
    hosts,
    app,
    keyLine,
    image: (tag) => `${registry}/${repo}:${tag}`,
    configure(tag, extra = '') {
      app.writeConfig(deployYml({ service, image: e2e.image(tag), servers: hosts.map((h) => h.server), host: hostHeader }) + extra);
    },
    push: (version, args = []) => app.run(['push', '--version', version, ...args]),
    containers: (engine) => containersByLabel((engine ?? hosts[0]!.engine).host, `berth.service=${service}`),
    async teardown() {
      for (const h of hosts) await h.stop();
      for (const engine of new Set(hosts.map((h) => h.engine))) {
        for (const c of await containersByLabel(engine.host, `berth.service=${service}`)) {
          await docker(engine.host, ['rm', '-f', c.name]);
        }
      }
      for (const h of hosts) h.cleanup();
      app.cleanup();
    },
  };
  e2e.configure('v1');
  for (const h of hosts) {
    const r = await app.run(['server', 'add', h.server]);
    if (r.code !== 0) throw new Error(`deploy server add failed: ${r.stderr}`);
  }
  return e2e;
}

/** Fails the test with everything a person would look at to see why. */
export function explain(r: { code: number | null; stdout: string; stderr: string }, app: E2eApp): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- agent log\n${app.hosts.map((h) => h.agentLog()).join('\n')}`;
}
