// Streams and pause end to end: the real CLI, agent, router and containers.
// A WebSocket and an SSE stream opened before a deploy stay on the old
// container while new ones reach the new one; the old container drains until
// drain_timeout (its streams keep it in flight) and its streams end when it is
// stopped. `deploy proxy pause` holds requests until `deploy proxy resume`.
//
// The test image's busybox httpd streams CGI output, so the app's two stream
// endpoints are CGI scripts the role's cmd writes at start (base64 in env, so
// the image stays the one every other test uses): /cgi-bin/ws answers the
// upgrade and sends "VERSION N" text frames, /cgi-bin/events "data: VERSION N".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore } from '../../agent/store/index.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { openSse, openWs } from '../support/stream-fixtures.js';
import { waitFor } from '../support/wait.js';

const WS_CGI = `#!/bin/sh
accept=$(printf '%s' "\${HTTP_SEC_WEBSOCKET_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11" | sha1sum | cut -c1-40 | sed 's/../\\\\x&/g')
printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: %s\\r\\n\\r\\n' "$(printf "$accept" | base64)"
n=0
while :; do n=$((n+1)); msg="$WEB_VERSION $n"; printf "\\\\201\\\\$(printf '%03o' \${#msg})%s" "$msg"; sleep 0.3; done
`;
const SSE_CGI = `#!/bin/sh
printf 'Content-Type: text/event-stream\\r\\nCache-Control: no-cache\\r\\n\\r\\n'
n=0
while :; do n=$((n+1)); printf 'data: %s %s\\n\\n' "$WEB_VERSION" "$n"; sleep 0.3; done
`;
const DRAIN_TIMEOUT_S = 8;

let e: E2eApp;

function configure(tag: string, service = e.service): void {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  e.app.writeConfig(`service: ${service}
image: ${e.image(tag)}
servers:
  web:
    hosts:
      - ${e.hosts[0]!.server}
    cmd: /bin/sh -c 'echo $WS_CGI | base64 -d > /www/cgi-bin/ws && echo $SSE_CGI | base64 -d > /www/cgi-bin/events && chmod 755 /www/cgi-bin/ws /www/cgi-bin/events && exec /start.sh'
env:
  clear:
    WS_CGI: ${b64(WS_CGI)}
    SSE_CGI: ${b64(SSE_CGI)}
proxy:
  host: ${e.hostHeader}
  app_port: 80
  healthcheck:
    path: /up
    interval: 1
deploy_timeout: 20
drain_timeout: ${DRAIN_TIMEOUT_S}
`);
}

before(async () => {
  e = await setupApp('streams');
  configure('v1');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => e?.teardown());

const h = () => e.hosts[0]!;
const page = (path = '/') => h().get(e.hostHeader, path);
const ws = (path = '/cgi-bin/ws') => openWs(h().httpPort, e.hostHeader, path, h().ip);
const sse = () => openSse(h().httpPort, e.hostHeader, '/cgi-bin/events', h().ip);

function drainEvents(): string[] {
  const store = openStore(join(h().stateDir, 'berth.db'));
  try {
    const last = store.latestDeploy(e.service, '');
    return last ? store.events(last.id).map((ev) => ev.message).filter((m) => m.includes('drain')) : [];
  } finally {
    store.close();
  }
}

async function containerRunning(release: string): Promise<boolean> {
  const c = (await e.containers()).find((x) => x.labels['berth.release'] === release);
  assert.ok(c, `a container of ${release}`);
  return c.state === 'running';
}

test('over a deploy: open streams stay on the old container until drain_timeout, new ones reach the new one', async () => {
  const oldWs = await ws();
  const oldSse = await sse();
  await waitFor('the first v1 messages', () => oldWs.received.length > 0 && oldSse.events.length > 0);

  configure('v2');
  const pushing = e.push('r2');
  await waitFor('v2 to be served', async () => (await page()).body === 'v2\n', 60_000, { intervalMs: 100 });
  const newWs = await ws();
  const newSse = await sse();
  await waitFor('the first v2 messages', () => newWs.received.length > 0 && newSse.events.length > 0);
  // The old streams still flow, from v1, after the switch: the old container is draining, not stopped.
  const [wsMark, sseMark] = [oldWs.received.length, oldSse.events.length];
  await waitFor('more v1 messages after the switch', () => oldWs.received.length > wsMark + 1 && oldSse.events.length > sseMark + 1);
  assert.ok(await containerRunning('r1'), 'the old container runs while its streams are open');

  const r = await pushing;
  assert.equal(r.code, 0, explain(r, e));
  await waitFor('the old streams to end', () => oldWs.closed() && oldSse.ended(), 20_000);
  assert.ok(oldWs.received.every((m) => m.startsWith('v1 ')), oldWs.received.join(','));
  assert.ok(oldSse.events.every((m) => m.startsWith('v1 ')), oldSse.events.join(','));
  assert.equal(await containerRunning('r1'), false, 'stopped after drain_timeout');
  // The agent's drain read the router's in-flight counts: both streams kept r1 draining until drain_timeout.
  assert.match(drainEvents().join('\n'), new RegExp(`drain of \\S+ timed out after ${DRAIN_TIMEOUT_S}s with 2 in flight`));

  // The new streams are untouched by the old container going away.
  const [newWsMark, newSseMark] = [newWs.received.length, newSse.events.length];
  await waitFor('more v2 messages', () => newWs.received.length > newWsMark && newSse.events.length > newSseMark);
  assert.ok(newWs.received.every((m) => m.startsWith('v2 ')) && newSse.events.every((m) => m.startsWith('v2 ')));
  // The CGI never reads the client's frames, so it would not answer a close handshake.
  newWs.ws.terminate();
  newSse.close();
});

test('deploy proxy pause holds a request until deploy proxy resume; status shows the pause', async () => {
  const paused = await e.app.run(['proxy', 'pause', '--timeout', '60']);
  assert.equal(paused.code, 0, explain(paused, e));
  assert.match(paused.stdout, /paused +requests held up to 60 s, then 504/);

  let settled = false;
  const held = page().finally(() => (settled = true));
  const status = await e.app.run(['status']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /PAUSE[\s\S]*paused since .* \(held up to 60 s\)/);
  assert.equal(settled, false, 'the request is still held');

  const resumed = await e.app.run(['proxy', 'resume']);
  assert.equal(resumed.code, 0, explain(resumed, e));
  assert.deepEqual(await held, { status: 200, body: 'v2\n' });
  assert.deepEqual(await page(), { status: 200, body: 'v2\n' });
  assert.doesNotMatch((await e.app.run(['status'])).stdout, /PAUSE/);
});

test('a paused request gets 504 after the timeout', async () => {
  assert.equal((await e.app.run(['proxy', 'pause', '--timeout', '1'])).code, 0);
  try {
    const answer = await page();
    assert.equal(answer.status, 504);
    assert.match(answer.body, /paused and did not resume within 1 s/);
  } finally {
    assert.equal((await e.app.run(['proxy', 'resume'])).code, 0);
  }
});

test('refused: a malformed timeout (exit 2), an unknown service (404), a read-only key (403); nothing is paused', async () => {
  for (const timeout of ['0', 'soon', '99999']) {
    const r = await e.app.run(['proxy', 'pause', `--timeout=${timeout}`]);
    assert.equal(r.code, 2, explain(r, e));
    assert.match(r.stderr, /--timeout/);
  }

  const readerKey = join(e.app.dir, '.reader-key.jwk');
  const keys = await e.app.run(['keys', 'new', '--comment', 'reader@test'], { keyFile: readerKey });
  assert.equal(keys.code, 0, keys.stderr);
  await h().trust(keys.stdout.trim(), 'read');
  const reader = await e.app.run(['proxy', 'pause'], { keyFile: readerKey });
  assert.equal(reader.code, 1, explain(reader, e));
  assert.match(reader.stdout, /failed +error: .*has scope read; this needs deploy/);

  configure('v2', 'ghost');
  try {
    const ghost = await e.app.run(['proxy', 'pause']);
    assert.equal(ghost.code, 1, explain(ghost, e));
    assert.match(ghost.stdout, /ghost has never been deployed/);
  } finally {
    configure('v2');
  }
  assert.deepEqual(await page(), { status: 200, body: 'v2\n' }, 'nothing is paused');
});
