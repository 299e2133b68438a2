// What the router serves for the bench app, and how long a CLI command takes until it serves a release.
import http from 'node:http';

export function served(ip, port, host) {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : ''));
    });
    req.on('error', () => resolve(''));
  });
}

/**
 * Milliseconds from starting `command` (a CLI run) until the router serves
 * `want` for the app; throws when the command fails or it never does (60 s).
 */
export async function msUntilServed(app, want, command, what) {
  const h = app.hosts[0];
  const started = performance.now();
  const run = command();
  let servedAt;
  while (performance.now() - started < 60_000) {
    if ((await served(h.ip, h.httpPort, app.hostHeader)) === want) {
      servedAt = performance.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const r = await run;
  if (r.code !== 0 || servedAt === undefined) throw new Error(`${what} failed: ${r.stderr}`);
  return servedAt - started;
}
