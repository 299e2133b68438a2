// From the tracked tag moving in a registry (a manifest PUT, what the end of a
// `docker push` does) until the router serves the new build, with nobody
// running a command. Two rows: the registry's own notification (CNCF
// distribution `notifications:`, which queues and sends on its own), and a
// signed generic delivery sent right after the PUT (what a CI step does), to
// tell the registry's delivery latency from Berth's.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deployYml } from '../dist/test/support/deploy-cli.js';
import { setupApp } from '../dist/test/support/e2e-app.js';
import { testEnv } from '../dist/test/support/env.js';
import { NotifyRegistry, copyImage } from '../dist/test/support/notify-registry.js';
import { retag, splitRef } from '../dist/test/support/registry.js';
import { served } from './served.mjs';

const SECRET = `bench-${randomBytes(12).toString('hex')}`;

/** An app tracking `main` in its own registry; `notify` points the registry's notifications at it. */
async function setup(service, notify) {
  const env = testEnv();
  const { registry: shared, repo } = splitRef(env.images.v1);
  const reg = new NotifyRegistry();
  await reg.start();
  for (const build of ['v1', 'v2']) await copyImage(shared, repo, build, reg.address, repo, `${build}-build`);
  await retag(reg.address, repo, 'v1-build', 'main');
  const app = await setupApp(service);
  const h = app.hosts[0];
  const source = notify ? 'distribution' : 'generic';
  mkdirSync(join(app.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(app.app.dir, '.kamal', 'secrets'), `HOOK=${SECRET}\n`);
  app.app.writeConfig(
    deployYml({ service, image: `${reg.address}/${repo}:main`, servers: [h.server], host: app.hostHeader }) +
      `x-berth:\n  auto_deploy:\n    tag: main\n    sources:\n      - ${source}:HOOK\n`,
  );
  const first = await app.push('signed-1');
  if (first.code !== 0) throw new Error(`first push failed: ${first.stderr}`);
  const urls = await app.app.run(['webhook', 'url', '--json']);
  if (urls.code !== 0) throw new Error(`deploy webhook url failed: ${urls.stderr}`);
  const path = new URL(JSON.parse(urls.stdout).servers[0].webhooks.urls[0].url).pathname;
  if (notify) await reg.start({ url: `http://${h.ip}:${h.httpPort}${path}`, authorization: SECRET });
  return { app, reg, repo, path, n: 0 };
}

function deliverGeneric(s, repository, digest) {
  // The digest a CI step knows; it also keeps two deliveries in one second from being one replayed delivery.
  const body = JSON.stringify({ repository, tag: 'main', digest });
  const at = String(Math.floor(Date.now() / 1000));
  s.lastSecond = at;
  const signature = `sha256=${createHmac('sha256', SECRET).update(`${at}.`).update(body).digest('hex')}`;
  const h = s.app.hosts[0];
  return new Promise((resolve, reject) => {
    const headers = { host: s.app.hostHeader, 'content-type': 'application/json', 'x-berth-timestamp': at, 'x-berth-signature': signature };
    const req = http.request({ host: h.ip, port: h.httpPort, path: s.path, method: 'POST', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`delivery answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Moves `main` to the other build and times until the router serves it. */
async function sample(s, afterPut) {
  const build = s.n % 2 === 0 ? 'v2' : 'v1';
  s.n++;
  const h = s.app.hosts[0];
  const started = performance.now();
  const digest = await retag(s.reg.address, s.repo, `${build}-build`, 'main');
  const sent = afterPut?.(digest);
  while (performance.now() - started < 60_000) {
    if ((await served(h.ip, h.httpPort, s.app.hostHeader)) === build) {
      const ms = performance.now() - started;
      await sent;
      return ms;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await sent;
  throw new Error(`the router did not serve ${build} within 60 s`);
}

function measurement(name, service, notify) {
  let s;
  return {
    name,
    async sample() {
      s ??= await setup(service, notify);
      // The same signed body in the same second is one delivery replayed (the generic id is the signature's
      // hash): a tag moved back and forth within a second is not a case to time, so wait for the next second.
      const now = Date.now();
      if (s.lastSecond === String(Math.floor(now / 1000))) await new Promise((r) => setTimeout(r, 1000 - (now % 1000)));
      return sample(s, notify ? undefined : (digest) => deliverGeneric(s, `${s.reg.address}/${s.repo}`, digest));
    },
    async cleanup() {
      await s?.app.teardown();
      await s?.reg.cleanup();
      s = undefined;
    },
  };
}

export const registryNotifyToServing = measurement('tag moved -> registry notification -> router serves', 'benchnotify', true);
export const genericHookToServing = measurement('tag moved + generic delivery -> router serves', 'benchhook', false);
