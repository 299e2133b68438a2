// Real Kamal 2 configs from public repositories (test/fixtures/kamal-real, see
// its README): `deploy config [-d DEST] --json` loads each one, and what it
// plans matches what Kamal 2.12's own loader produced for the same files
// (expected/<dest>.json): image, service, roles with their hosts and tags,
// proxy, env per role and host, accessories. Where Kamal refuses a config,
// Berth refuses it too.

import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { main } from '../../../cli/main.js';
import { captureStream, tempDir, testEnv } from '../../support/cli-fixtures.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/kamal-real/', import.meta.url));
const dirs: Array<{ cleanup(): void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));

// Kamal's shapes, as expected/<dest>.json holds them.
interface KamalEnv {
  clear: Record<string, string>;
  /** Variable name → the secret it reads (Kamal's NAME or NAME:SECRET). */
  secret: Record<string, string>;
}
interface KamalProxy {
  hosts: string[];
  app_port: number;
  ssl: boolean | { certificate_pem: string; private_key_pem: string };
  healthcheck_path: string | null;
  path_prefixes: string[];
}
interface KamalRole {
  name: string;
  primary: boolean;
  hosts: Array<{ host: string; tags: string[]; env: KamalEnv }>;
  env: KamalEnv;
  proxy: KamalProxy | null;
}
interface KamalAccessory {
  name: string;
  service: string;
  image: string;
  hosts: string[];
  port: string | null;
  env: KamalEnv;
  proxy: KamalProxy | null;
}
interface KamalView {
  error?: string;
  service: string;
  image: string;
  primary_role: string;
  roles: KamalRole[];
  accessories: KamalAccessory[];
  aliases: string[];
}

// Berth's `deploy config --json` (cli/config/view.ts, cli/config/plan.ts).
interface BerthEnv {
  clear: Record<string, string>;
  secretNames: Record<string, string>;
}
interface BerthProxy {
  hosts: string[];
  app_port: number;
  ssl: boolean | { certificate_pem: string; private_key_pem: string };
  healthcheck: { path: string };
  path_prefixes?: string[];
}
interface BerthView {
  service: string;
  image: string;
  primary_role: string;
  roles: Array<{ role: string; primary: boolean; hosts: Array<{ host: string; tags: string[]; env: BerthEnv }>; env: BerthEnv; proxy: BerthProxy | null }>;
  accessories: Array<{ name: string; service: string; image: string; hosts: string[]; port: string | null; env: BerthEnv; proxy?: BerthProxy | null }>;
  aliases?: Record<string, string>;
  agent: { port: number };
}

// kamal-proxy's own default when deploy.yml names no healthcheck path (Kamal passes none).
const KAMAL_PROXY_HEALTHCHECK_PATH = '/up';

function kamalProxy(proxy: KamalProxy | null): unknown {
  if (!proxy) return null;
  return {
    hosts: proxy.hosts,
    app_port: proxy.app_port,
    ssl: proxy.ssl,
    healthcheck_path: proxy.healthcheck_path ?? KAMAL_PROXY_HEALTHCHECK_PATH,
    path_prefixes: proxy.path_prefixes,
  };
}

function berthProxy(proxy: BerthProxy | null | undefined): unknown {
  if (!proxy) return null;
  return { hosts: proxy.hosts, app_port: proxy.app_port, ssl: proxy.ssl, healthcheck_path: proxy.healthcheck.path, path_prefixes: proxy.path_prefixes ?? [] };
}

const kamalEnv = (env: KamalEnv) => ({ clear: env.clear, secret: env.secret });
const berthEnv = (env: BerthEnv) => ({ clear: env.clear, secret: env.secretNames });
const byName = <T>(items: T[], name: (item: T) => string): Record<string, T> => Object.fromEntries(items.map((i) => [name(i), i]));

/** The Kamal view mapped onto the fields both tools show, keyed by role/accessory name. */
function fromKamal(k: KamalView): unknown {
  return {
    service: k.service,
    image: kamalImage(k.image),
    primary_role: k.primary_role,
    roles: byName(
      k.roles.map((r) => ({
        name: r.name,
        primary: r.primary,
        hosts: r.hosts.map((h) => ({ host: h.host, tags: h.tags, env: kamalEnv(h.env) })),
        env: kamalEnv(r.env),
        proxy: kamalProxy(r.proxy),
      })),
      (r) => r.name,
    ),
    accessories: byName(
      k.accessories.map((a) => ({ name: a.name, service: a.service, image: a.image, hosts: a.hosts, port: a.port, env: kamalEnv(a.env), proxy: kamalProxy(a.proxy) })),
      (a) => a.name,
    ),
    aliases: k.aliases,
  };
}

/**
 * Kamal prefixes registry.server to the image even when the image already
 * starts with it (`ghcr.io/ghcr.io/owner/app`); Berth deliberately does not
 * (cli/config/types.ts, DeployConfig.image), so compare with the prefix once.
 */
function kamalImage(image: string): string {
  const [first, ...rest] = image.split('/');
  return rest[0] === first ? rest.join('/') : image;
}

function fromBerth(b: BerthView): unknown {
  // Berth's hosts carry the agent's port (host:7443); Kamal's are the SSH host names.
  const suffix = `:${b.agent.port}`;
  const host = (h: string) => (h.endsWith(suffix) ? h.slice(0, -suffix.length).replace(/^\[(.*)\]$/, '$1') : h);
  return {
    service: b.service,
    image: b.image,
    primary_role: b.primary_role,
    roles: byName(
      b.roles.map((r) => ({
        name: r.role,
        primary: r.primary,
        hosts: r.hosts.map((h) => ({ host: host(h.host), tags: h.tags, env: berthEnv(h.env) })),
        env: berthEnv(r.env),
        proxy: berthProxy(r.proxy),
      })),
      (r) => r.name,
    ),
    accessories: byName(
      b.accessories.map((a) => ({ name: a.name, service: a.service, image: a.image, hosts: a.hosts.map(host), port: a.port, env: berthEnv(a.env), proxy: berthProxy(a.proxy) })),
      (a) => a.name,
    ),
    aliases: Object.keys(b.aliases ?? {}).sort(),
  };
}

/** Configs Kamal loads that Berth refuses on purpose, with what its refusal must name. */
const REFUSED_BY_DESIGN: Record<string, { reason: string; error: RegExp }> = {
  // Issue 14 §2: `network: host` stays refused. Both destinations inherit the logdaemon role.
  'serveme/staging': { reason: 'network: host on the logdaemon role', error: /servers\/logdaemon\/options\/network: is refused/ },
  'serveme/eu': { reason: 'network: host on the logdaemon role', error: /servers\/logdaemon\/options\/network: is refused/ },
};

interface Case {
  fixture: string;
  destination: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const fixture of readdirSync(FIXTURES, { withFileTypes: true })) {
    if (!fixture.isDirectory()) continue;
    const expected = join(FIXTURES, fixture.name, 'expected');
    for (const file of readdirSync(expected).sort()) {
      if (file.endsWith('.json')) out.push({ fixture: fixture.name, destination: file === 'default.json' ? '' : file.slice(0, -5) });
    }
  }
  return out;
}

/**
 * A copy outside any git checkout (so `git describe` in ERB finds no repository,
 * as when Kamal's output was recorded), with the fixture's ERB env and its
 * stand-in commands (stub-bin/) first on PATH.
 */
async function runConfig(c: Case, erb: ErbMode): Promise<{ code: number; out: string; err: string }> {
  const dir = tempDir('berth-kamal-real-');
  dirs.push(dir);
  const cwd = join(dir.path, c.fixture);
  cpSync(join(FIXTURES, c.fixture), cwd, { recursive: true });
  const envFile = join(cwd, 'erb-env.json');
  const erbEnv = existsSync(envFile) ? (JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>) : {};
  const stubs = join(cwd, 'stub-bin');
  const PATH = existsSync(stubs) ? `${stubs}:${process.env.PATH ?? ''}` : process.env.PATH;
  const env = testEnv(cwd, { processEnv: { PATH, HOME: join(dir.path, 'home'), ...erbEnv, BERTH_ERB: erb } });
  const argv = ['config', ...(c.destination ? ['-d', c.destination] : []), '--json'];
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main({ argv, env, stdout: stdout.stream, stderr: stderr.stream });
  return { code, out: stdout.text(), err: stderr.text() };
}

type ErbMode = 'ruby' | 'builtin';

// Both ERB paths: Ruby's own ERB (what a Kamal user has), and the built-in
// subset a machine without Ruby gets.
for (const erb of ['ruby', 'builtin'] as const) {
  describe(`real Kamal 2 configs: deploy config --json matches Kamal 2.12 (ERB by ${erb})`, () => {
    for (const c of cases()) {
      const id = `${c.fixture} ${c.destination || '(no destination)'}`;
      const key = `${c.fixture}/${c.destination || 'default'}`;
      const expected = JSON.parse(readFileSync(join(FIXTURES, c.fixture, 'expected', `${c.destination || 'default'}.json`), 'utf8')) as KamalView;
      const refused = REFUSED_BY_DESIGN[key];
      if (expected.error || refused) {
        it(`${id}: refused, as ${expected.error ? 'Kamal refuses it' : `by design (${refused?.reason})`}`, async () => {
          const { code, out } = await runConfig(c, erb);
          assert.equal(code, 2, `expected a config error; stdout: ${out.slice(0, 200)}`);
          // With --json the error is the JSON document on stdout. Where Kamal refused, Berth names the same key.
          if (refused) assert.match(out, refused.error);
          else assert.ok(out.includes(`${(expected.error ?? '').replace(/^[\w:]+: /, '').split(':')[0]}:`), `Kamal: ${expected.error}; Berth: ${out.slice(0, 300)}`);
        });
        continue;
      }
      it(id, async () => {
        const { code, out, err } = await runConfig(c, erb);
        assert.equal(code, 0, `deploy config failed:\n${out}${err}`);
        assert.deepEqual(fromBerth(JSON.parse(out) as BerthView), fromKamal(expected));
      });
    }
  });
}
