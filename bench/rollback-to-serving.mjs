// `deploy rollback` until the router serves the previous release: a start of
// the retained container, its health check and the switch (no pull, no
// create). Each sample rolls back to the other of two releases, so every
// rollback is a real switch, comparable with the push row.
import { setupApp } from '../dist/test/support/e2e-app.js';
import { msUntilServed } from './served.mjs';

let app;
let serving = 'v2';

export const rollbackToServing = {
  name: 'deploy rollback -> router serves the retained release (web, 1 server)',
  async sample() {
    if (!app) {
      app = await setupApp('benchrb');
      for (const [tag, version] of [['v1', 'rb-1'], ['v2', 'rb-2']]) {
        app.configure(tag);
        const r = await app.push(version);
        if (r.code !== 0) throw new Error(`warm-up push failed: ${r.stderr}`);
      }
    }
    const want = serving === 'v2' ? 'v1' : 'v2';
    const ms = await msUntilServed(app, want, () => app.app.run(['rollback']), 'rollback');
    serving = want;
    return ms;
  },
  async cleanup() {
    await app?.teardown();
  },
};
