// Baseline: what Docker alone takes to serve the web:v1 test image —
// `docker create` + `docker start` + polling until the first 2xx. The image is
// pulled beforehand, so pulls are not part of the number (as for a deploy of
// an image already on the server).
import { spawnSync } from 'node:child_process';

function docker(host, args) {
  const r = spawnSync('docker', ['-H', host, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${(r.stderr || '').trim()}`);
  return r.stdout.trim();
}

async function untilOk(url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${url} gave no 2xx within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One create+start+first 2xx; on `network` (a user-defined bridge) when given, else Docker's default bridge. */
async function bareSample(env, network) {
  const host = env.engines[0].host;
  const image = env.images.v1;
  docker(host, ['pull', '-q', image]);
  const name = `berth-bench-${process.pid}-${Date.now()}`;
  const started = performance.now();
  try {
    docker(host, ['create', '--name', name, '--label', 'berth.test=bench', ...(network ? ['--network', network] : []), image]);
    docker(host, ['start', name]);
    const format = network ? `{{(index .NetworkSettings.Networks "${network}").IPAddress}}` : '{{.NetworkSettings.IPAddress}}';
    const ip = docker(host, ['inspect', '-f', format, name]);
    await untilOk(`http://${ip}/`);
    return performance.now() - started;
  } finally {
    spawnSync('docker', ['-H', host, 'rm', '-f', name]);
  }
}

// The floor the push ratio is measured against: Docker alone, default bridge.
export const bareDocker = {
  name: 'bare docker create+start+first 2xx (web:v1, engine 1)',
  sample: (env) => bareSample(env),
};

// Informational: the same on a user-defined bridge network, as Berth's app
// containers run (its `berth` network): Docker's own cost of such a network
// (an endpoint and its embedded DNS), which no deploy on it can avoid.
let benchNetwork;
let benchHost;
export const bareDockerBerthNetwork = {
  name: 'bare docker, same, on a user-defined bridge like berth (info)',
  async sample(env) {
    benchHost = env.engines[0].host;
    if (!benchNetwork) {
      benchNetwork = `berth-bench-net-${process.pid}`;
      docker(benchHost, ['network', 'create', '--driver', 'bridge', '--label', 'berth.test=bench', benchNetwork]);
    }
    return bareSample(env, benchNetwork);
  },
  async cleanup() {
    if (benchNetwork) spawnSync('docker', ['-H', benchHost, 'network', 'rm', benchNetwork]);
    benchNetwork = undefined;
  },
};
