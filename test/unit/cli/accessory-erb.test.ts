// Accessory files whose name ends in `erb` are rendered as Kamal renders them:
// with the accessory's env (clear values and secrets) in ENV, in the app
// directory, by Ruby's ERB when installed and by the built-in subset without
// it. The rendered file travels sealed; a failing tag is named with its line
// and no value.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { buildManifestPayload } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { generateIdentityKeys } from '../../../shared/keys.js';
import { openSealed, seal, type SealBinding } from '../../../shared/sealing.js';
import { tempDir } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: `shop/web@${DIGEST}`, seq: 1, nowSeconds: 1_800_000_000 };
const SECRETS: Record<string, string> = { DB_PASSWORD: 'pw-accessory-erb-7f3' };

const config = (file: string) => `service: shop
image: shop/web:v1
servers:
  - 10.0.0.1
proxy:
  host: shop.example.com
accessories:
  db:
    image: mysql@${DIGEST}
    host: 10.0.0.1
    env:
      clear:
        DB_NAME: shop_production
      secret:
        - DB_PASSWORD
    files:
      - ${file}:/etc/mysql/conf.d/client.cnf
`;

async function renderedFile(template: string, erb: 'ruby' | 'builtin'): Promise<string> {
  const dir = tempDir();
  try {
    mkdirSync(join(dir.path, 'config'));
    writeFileSync(join(dir.path, 'config', 'client.cnf.erb'), template);
    writeFileSync(join(dir.path, 'deploy.yml'), config('config/client.cnf.erb'));
    const { config: loaded, warnings } = await loadConfig(dir.path);
    assert.deepEqual(warnings, []);
    const keys = await generateIdentityKeys();
    const sealing = {
      seal: (v: string, b: SealBinding) => seal(v, keys.sealing.publicJwk, b),
      secret: (name: string) => SECRETS[name] ?? assert.fail(`unexpected secret ${name}`),
      registry: undefined,
    };
    const manifest = await buildManifestPayload(loaded, planContainers(loaded), '10.0.0.1:7443', { ...facts, processEnv: { PATH: process.env.PATH, BERTH_ERB: erb } }, sealing);
    const file = manifest.accessories?.db?.files?.[0];
    assert.equal(file?.target, '/etc/mysql/conf.d/client.cnf');
    const opened = await openSealed(file?.content ?? '', keys.sealing.privateJwk, { use: 'accessory-file', service: 'shop', destination: '', accessory: 'db', target: '/etc/mysql/conf.d/client.cnf' });
    return opened.value;
  } finally {
    dir.cleanup();
  }
}

const TEMPLATE = '[client]\ndatabase=<%= ENV["DB_NAME"] %>\npassword=<%= ENV.fetch("DB_PASSWORD") %>\nhost=<%= ENV.fetch("DB_HOST", "shop-db") %>\n';
const EXPECTED = '[client]\ndatabase=shop_production\npassword=pw-accessory-erb-7f3\nhost=shop-db\n';

for (const mode of ['ruby', 'builtin'] as const) {
  describe(`accessory .erb files (BERTH_ERB=${mode})`, () => {

    it('renders the template with the accessory env, secrets included, and seals the result', async () => {
      assert.equal(await renderedFile(TEMPLATE, mode), EXPECTED);
    });

    it('names the failing tag and line, never a value', async () => {
      await assert.rejects(renderedFile('password=<%= ENV.fetch("DB_PASSWORD") %>\nport=<%= ENV.fetch("DB_PORT") %>\n', mode), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /config\/client\.cnf\.erb:2/);
        assert.match(err.message, /DB_PORT/);
        assert.doesNotMatch(err.message, /pw-accessory-erb-7f3/);
        return true;
      });
    });

    it('refuses a template that renders to more than an accessory file may hold', async () => {
      await assert.rejects(renderedFile(`<%= "x" * 70000 %>\n`, mode), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        // Ruby renders it and Berth refuses the size; the built-in subset has no `*` and names the tag instead.
        assert.match(err.message, mode === 'ruby' ? /renders (\(ERB\) )?to more than 65536 bytes/ : /not supported without Ruby/);
        return true;
      });
    });
  });
}
