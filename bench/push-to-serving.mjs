// `deploy push` until the router serves the new release, for the same image
// the bare-docker row starts (web:v1/v2, already pulled, as in that row).
// Each sample alternates v1 and v2 so every push is a real switch.
import { setupApp } from '../dist/test/support/e2e-app.js';
import { msUntilServed } from './served.mjs';

let app;
let n = 0;

export const pushToServing = {
  name: 'deploy push -> router serves new release (web, 1 server)',
  async sample() {
    if (!app) {
      app = await setupApp('bench');
      app.configure('v1');
      const first = await app.push('warm-1');
      if (first.code !== 0) throw new Error(`warm-up push failed: ${first.stderr}`);
      app.configure('v2');
      const second = await app.push('warm-2');
      if (second.code !== 0) throw new Error(`warm-up push failed: ${second.stderr}`);
    }
    const tag = n % 2 === 0 ? 'v1' : 'v2';
    n++;
    app.configure(tag);
    return msUntilServed(app, tag, () => app.push(`b${n}-${Date.now()}`), 'push');
  },
  async cleanup() {
    await app?.teardown();
  },
};
