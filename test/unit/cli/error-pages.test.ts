// Kamal's error_pages_path on the deploying machine: which files are taken,
// what is refused (before any server is contacted), and how the pages reach
// the manifest and the features the CLI requires.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { readErrorPages } from '../../../cli/error-pages.js';
import { buildManifestPayload, planFeatures } from '../../../cli/manifest-builder.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { appDirs, rejectsConfigError } from '../../support/cli-fixtures.js';

const app = appDirs();
const BASE = `service: demo
image: 127.0.0.1:5000/berth-test/web:latest
servers:
  web:
    - 10.0.0.1
  jobs:
    hosts:
      - 10.0.0.2
    cmd: bin/jobs
proxy:
  host: demo.test
error_pages_path: public
`;

describe('error_pages_path: reading the pages', () => {
  it("takes Kamal's 4??.html and 5??.html, leaves every other file alone", async () => {
    const dir = app({ 'public/502.html': '<p>502 {{ .Message }}</p>', 'public/404.html': 'nf', 'public/500.htm': 'x', 'public/robots.txt': 'x', 'public/5020.html': 'x', 'public/assets/503.html': 'nested' });
    assert.deepEqual(await readErrorPages(dir, 'public'), { '404': 'nf', '502': '<p>502 {{ .Message }}</p>' });
    assert.deepEqual(await readErrorPages(dir, join(dir, 'public')), { '404': 'nf', '502': '<p>502 {{ .Message }}</p>' });
    assert.equal(await readErrorPages(dir, undefined), undefined);
    assert.equal(await readErrorPages(app({ 'public/index.html': 'x' }), 'public'), undefined);
  });

  it('refuses a missing directory, names that are not statuses, symlinks, non-UTF-8, oversized and unsupported pages', async () => {
    await rejectsConfigError(readErrorPages(app({ 'x': '' }), 'public'), /error_pages_path: public is not a directory/);
    await rejectsConfigError(readErrorPages(app({ 'public/4xx.html': 'x' }), 'public'), /"4xx\.html" is not named after an HTTP status/);
    const linked = app({ 'secret.txt': 'nope', 'public/500.html': 'ok' });
    symlinkSync(join(linked, 'secret.txt'), join(linked, 'public', '502.html'));
    await rejectsConfigError(readErrorPages(linked, 'public'), /"502\.html" is a symbolic link/);
    const dirPage = app({ 'public/500.html': 'ok' });
    mkdirSync(join(dirPage, 'public', '503.html'));
    await rejectsConfigError(readErrorPages(dirPage, 'public'), /"503\.html" is not a regular file/);
    await rejectsConfigError(readErrorPages(app({ 'public/502.html': Buffer.from([0x3c, 0xff, 0xfe, 0x3e]) }), 'public'), /"502\.html" is not UTF-8 text/);
    await rejectsConfigError(readErrorPages(app({ 'public/502.html': 'x'.repeat(64 * 1024 + 1) }), 'public'), /"502\.html" is 65537 bytes, more than 65536/);
    await rejectsConfigError(readErrorPages(app({ 'public/500.html': 'x'.repeat(60_000), 'public/502.html': 'y'.repeat(60_000) }), 'public'), /more than 98304 bytes together/);
    const many = app(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`public/${500 + i}.html`, 'x'])));
    await rejectsConfigError(readErrorPages(many, 'public'), /holds 17 error pages; at most 16/);
    await rejectsConfigError(readErrorPages(app({ 'public/502.html': '{{ .Status }}' }), 'public'), /"502\.html" uses \{\{ \.Status \}\}/);
  });

  it('loads without the warning it had while not in force', async () => {
    const loaded = await loadConfig(app({ 'deploy.yml': BASE }));
    assert.equal(loaded.config.error_pages_path, 'public');
    assert.ok(!loaded.warnings.some((w) => /error_pages_path/.test(w)), JSON.stringify(loaded.warnings));
  });
});

describe('error_pages_path: the manifest', () => {
  const sealing = { seal: async (v: string) => `sealed(${v.length})`, secret: () => assert.fail('no secrets here'), registry: undefined };
  const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: '127.0.0.1:5000/berth-test/web@sha256:' + '0'.repeat(64), seq: 1, nowSeconds: 1_800_000_000, accessoryImages: {} };

  it('sends the pages to hosts with a proxied role, and requires proxy.error_pages.v1', async () => {
    const dir = app({ 'deploy.yml': BASE });
    const { config } = await loadConfig(dir);
    const plan = planContainers(config);
    const errorPages = { '502': '<p>down</p>' };
    const hostOf = (role: string): string => plan.roles.find((r) => r.role === role)!.hosts[0]!.host;
    const web = await buildManifestPayload(config, plan, hostOf('web'), { ...facts, errorPages }, sealing);
    assert.deepEqual(parseManifestPayload(web).error_pages, errorPages);
    const jobs = await buildManifestPayload(config, plan, hostOf('jobs'), { ...facts, errorPages }, sealing);
    assert.equal(jobs.error_pages, undefined);
    assert.ok(planFeatures(plan, config).includes('proxy.error_pages.v1'));
    const without = (await loadConfig(app({ 'deploy.yml': BASE.replace('error_pages_path: public\n', '') }))).config;
    assert.ok(!planFeatures(planContainers(without), without).includes('proxy.error_pages.v1'));
  });
});

