// The agent's tag listing against the real registries of the test environment:
// version tags made unique to this run (a major no other test uses) are listed,
// across pages too, and the range picks the highest of them; the registry that
// needs a login lists with it and refuses without it, typed.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { listTags } from '../../../agent/registry/tags.js';
import { RegistryError } from '../../../shared/errors.js';
import { parseTagPattern, pickTag } from '../../../shared/tag-pattern.js';
import { testEnv } from '../../support/env.js';
import { retag, splitRef } from '../../support/registry.js';

const env = testEnv();

describe('agent: a repository\'s tags in the open registry', () => {
  const { repo } = splitRef(env.images.v1);
  const image = `${env.registry}/${repo}@sha256:${'0'.repeat(64)}`;

  test('lists the tags pushed, over several pages, and a range picks the highest match', async () => {
    const major = 900_000 + randomInt(99_999);
    const digests = new Map<string, string>();
    for (const [minor, from] of [['4.1', 'v1'], ['4.3', 'v2'], ['5.0', 'v1']] as const) {
      digests.set(`${major}.${minor}`, await retag(env.registry, repo, from, `${major}.${minor}`));
    }
    const all = await listTags({ image });
    for (const tag of digests.keys()) assert.ok(all.includes(tag), `${tag} listed`);
    // Two tags a page: the Link header walks every page, and the pages add up to the same set.
    const paged = await listTags({ image, pageSize: 2, maxPages: 1000, maxTags: 100_000 });
    assert.deepEqual(new Set(paged), new Set(all));
    assert.equal(paged.length, new Set(paged).size, 'no tag twice');

    assert.equal(pickTag(parseTagPattern(`~${major}.4`), all), `${major}.4.3`);
    assert.equal(pickTag(parseTagPattern(`>=${major}.0.0 <${major + 1}`), all), `${major}.5.0`);
    assert.equal(pickTag(parseTagPattern(`${major}.4.*`), all), `${major}.4.3`);
  });

  test('an unknown repository is a typed not-found', async () => {
    await assert.rejects(listTags({ image: `${env.registry}/berth-test/no-such-repo-${randomInt(1e9)}` }), (e: unknown) => {
      assert.ok(e instanceof RegistryError, String(e));
      assert.deepEqual([e.code, e.answer.status], ['image_not_found', 404]);
      return true;
    });
  });
});

describe('agent: a repository\'s tags in the registry that needs a login', () => {
  const reg = env.authRegistry;
  const image = `${reg.address}/berth-test/web@sha256:${'0'.repeat(64)}`;

  test('lists with the login, and without it is a typed credentials-required error', async () => {
    const tags = await listTags({ image, credentials: { username: reg.username, password: reg.password } });
    assert.ok(tags.includes('v1') && tags.includes('v2'), tags.join(' '));
    await assert.rejects(listTags({ image }), (e: unknown) => {
      assert.ok(e instanceof RegistryError, String(e));
      assert.deepEqual([e.code, e.answer.status], ['registry_credentials_required', 401]);
      return true;
    });
  });
});
