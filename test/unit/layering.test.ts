// The layering rules of .dependency-cruiser.cjs, run in the unit suite so they
// cannot drift: the sources must break none of them, and each rule must catch
// its planted violation in test/fixtures/layering/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'layering');
const KNOWN_FILE = path.join(ROOT, '.dependency-cruiser-known-violations.json');

interface DepcruiseConfig {
  forbidden: { name: string }[];
  options: Record<string, unknown>;
}
const config = createRequire(import.meta.url)(path.join(ROOT, '.dependency-cruiser.cjs')) as DepcruiseConfig;

/** The violations of the rule set over agent/, cli/ and shared/ under baseDir. */
async function layeringViolations(baseDir: string): Promise<IViolation[]> {
  const tsConfig = extractTSConfig(path.join(ROOT, 'tsconfig.json'));
  const { options } = config;
  const result = await cruise(
    ['agent', 'cli', 'shared'],
    {
      ...options,
      tsConfig: { fileName: path.join(ROOT, 'tsconfig.json') },
      baseDir,
      validate: true,
      ruleSet: { forbidden: config.forbidden } as never,
      outputType: 'json',
    },
    {},
    { tsConfig },
  );
  const output = result.output as ICruiseResult | string;
  const parsed = typeof output === 'string' ? (JSON.parse(output) as ICruiseResult) : output;
  return parsed.summary.violations;
}

/** `rule: from → to`, with an npm package named as imported rather than by its resolved file. */
function describeViolation(v: IViolation): string {
  const to = v.to.includes('node_modules/') ? (v.unresolvedTo ?? v.to) : v.to;
  return `${v.rule.name}: ${v.from} → ${to}`;
}

/**
 * Today's violations inside cli/ and agent/engine/, which other branches of
 * issue 9 are removing. Empty this baseline once they are merged; the test
 * fails when an entry no longer occurs, so it can only shrink.
 */
function knownViolations(): Set<string> {
  if (!fs.existsSync(KNOWN_FILE)) return new Set();
  const known = JSON.parse(fs.readFileSync(KNOWN_FILE, 'utf8')) as IViolation[];
  return new Set(known.map(describeViolation));
}

describe('layering (.dependency-cruiser.cjs)', () => {
  it('agent/, cli/ and shared/ break no layering rule', async () => {
    const found = (await layeringViolations(ROOT)).map(describeViolation);
    const known = knownViolations();
    const fresh = found.filter((v) => !known.has(v));
    const gone = [...known].filter((v) => !found.includes(v));
    assert.deepEqual(fresh, [], `layering violations (rule: from → to):\n  ${fresh.join('\n  ')}`);
    assert.deepEqual(
      gone,
      [],
      `known violations that no longer occur; remove them from .dependency-cruiser-known-violations.json:\n  ${gone.join('\n  ')}`,
    );
  });

  it('each rule reports exactly its planted violation in test/fixtures/layering/', async () => {
    const planted: Record<string, string[]> = {
      // A circle is reported once, from its first module (here through a type-only import back).
      'no-circular': ['agent/store/deploys.ts → agent/store/types.ts'],
      'pure-no-effects': ['shared/effect.ts → fs'],
      'core-only-core-and-shared': ['agent/core/reach.ts → agent/store/db.ts'],
      'shared-not-binaries': ['shared/binaries.ts → agent/core/plan.ts'],
      'agent-not-cli': ['agent/uses-cli.ts → cli/exec-socket.ts'],
      'cli-not-agent': ['cli/uses-agent.ts → agent/core/helper.ts'],
      'cli-infra-not-commands': ['cli/fleet.ts → cli/commands/push.ts'],
      'no-test-imports': ['agent/test-import.ts → test/support/fake.ts'],
      'adapter-hono': ['agent/engine/hono.ts → hono'],
      'adapter-dockerode': ['agent/engine/docker.ts → dockerode'],
      'adapter-better-sqlite3': ['agent/engine/sqlite.ts → better-sqlite3'],
      'adapter-jose': ['cli/keys.ts → jose'],
      'adapter-yaml': ['cli/commands/config.ts → yaml'],
      'adapter-ws': ['cli/client.ts → ws'],
      'adapter-cron': ['agent/engine/cron.ts → cron'],
      'adapter-zod': ['agent/engine/zod.ts → zod'],
      'adapter-semver': ['agent/engine/semver.ts → semver'],
      'adapter-picomatch': ['cli/config/picomatch.ts → picomatch'],
      'adapter-tar-stream': ['agent/engine/tar-stream.ts → tar-stream'],
      'adapter-age-encryption': ['agent/engine/age.ts → age-encryption'],
      'adapter-undici': ['agent/router/forward.ts → undici'],
      'adapter-acme-client': ['agent/engine/acme.ts → acme-client'],
      'external-unlisted': ['agent/engine/unlisted.ts → typescript'],
      'not-to-unresolvable': ['agent/engine/missing.ts → ./gone.js'],
    };
    assert.deepEqual(
      config.forbidden.map((r) => r.name).sort(),
      Object.keys(planted).sort(),
      'every rule has a planted violation (add one to test/fixtures/layering/ with a new rule)',
    );
    const found = (await layeringViolations(FIXTURES)).map(describeViolation).sort();
    const expected = Object.entries(planted).flatMap(([rule, edges]) => edges.map((e) => `${rule}: ${e}`)).sort();
    assert.deepEqual(found, expected);
  });
});
