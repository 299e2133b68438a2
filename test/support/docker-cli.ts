// Observing and arranging Docker state from tests through the docker CLI,
// independent of the agent's own dockerode adapter, so tests check what a
// user of the engine would see.
import { spawn } from 'node:child_process';
import { MANIFEST_ACCEPT } from '../../cli/registry.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function docker(
  engineHost: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['-H', engineHost, ...args], {
      env: { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 300_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    // A command that exits without reading its input (most do) closes the pipe
    // first on a busy machine; the write then fails with EPIPE, which is not
    // the command's result.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like docker() but throws with the command's stderr when it fails; returns stdout. */
export async function dockerOk(engineHost: string, args: string[]): Promise<string> {
  const r = await docker(engineHost, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export interface ContainerInfo {
  id: string;
  /** Without the leading slash. */
  name: string;
  /** created, running, exited, ... */
  state: string;
  labels: Record<string, string>;
  image: string;
  /** IP address per network name. */
  ips: Record<string, string>;
}

interface InspectedContainer {
  Id: string;
  Name: string;
  State: { Status: string };
  Config: { Labels: Record<string, string> | null; Image: string };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> | null };
}

export async function inspectContainers(engineHost: string, ids: string[]): Promise<ContainerInfo[]> {
  if (ids.length === 0) return [];
  const raw = JSON.parse(await dockerOk(engineHost, ['inspect', '--type', 'container', ...ids])) as InspectedContainer[];
  return raw.map((c) => ({
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    state: c.State.Status,
    labels: c.Config.Labels ?? {},
    image: c.Config.Image,
    ips: Object.fromEntries(Object.entries(c.NetworkSettings.Networks ?? {}).map(([n, v]) => [n, v.IPAddress])),
  }));
}

/** All containers (running or not) matching a label filter like 'berth.service=demo'. */
export async function containersByLabel(engineHost: string, label: string): Promise<ContainerInfo[]> {
  const ids = (await dockerOk(engineHost, ['ps', '-aq', '--no-trunc', '--filter', `label=${label}`]))
    .split('\n').map((s) => s.trim()).filter(Boolean);
  return inspectContainers(engineHost, ids);
}

export async function removeContainersByLabel(engineHost: string, label: string): Promise<void> {
  const ids = (await containersByLabel(engineHost, label)).map((c) => c.id);
  if (ids.length > 0) await dockerOk(engineHost, ['rm', '-f', '-v', ...ids]);
}

export async function imagePresent(engineHost: string, ref: string): Promise<boolean> {
  return (await docker(engineHost, ['image', 'inspect', '--format', '{{.Id}}', ref])).code === 0;
}

/** Removes an image reference (tag or digest); absent is fine. */
export async function removeImage(engineHost: string, ref: string): Promise<void> {
  const r = await docker(engineHost, ['rmi', '-f', ref]);
  if (r.code !== 0 && !/No such image/i.test(r.stderr)) {
    throw new Error(`docker rmi ${ref} failed: ${r.stderr.trim()}`);
  }
}

/** The registry rejects a manifest HEAD (400) unless these are accepted: the CLI's own list. */
export { MANIFEST_ACCEPT };

/** `sha256:...` of REPO:TAG (or REPO@DIGEST) in a plain-HTTP registry; null when absent. */
export async function registryDigest(registry: string, repo: string, tag: string): Promise<string | null> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: MANIFEST_ACCEPT },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`registry HEAD ${repo}:${tag} answered ${res.status}`);
  const digest = res.headers.get('docker-content-digest');
  if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`registry gave no digest for ${repo}:${tag}`);
  return digest;
}
