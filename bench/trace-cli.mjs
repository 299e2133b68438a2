// Preloaded into a CLI run by bench/push-split.mjs (NODE_OPTIONS=--import=…):
// appends one JSON line per outgoing request to $BERTH_BENCH_TRACE, with
// wall-clock times, so the bench can split a push without the CLI printing
// anything of its own. Bench-only: never loaded by the product.
import dc from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';

const file = process.env.BERTH_BENCH_TRACE;
const wall = () => performance.timeOrigin + performance.now();
const write = (event) => {
  if (file) appendFileSync(file, `${JSON.stringify({ t: wall(), ...event })}\n`);
};

write({ what: 'process', t: performance.timeOrigin });
write({ what: 'preload' });

// node:http(s): the agent API (/v1/...) and the registry lookup (cli/registry.ts:
// /v2/... and its token service). One start and one finish per request.
const started = new WeakMap();
dc.subscribe('http.client.request.start', ({ request }) => {
  started.set(request, wall());
});
dc.subscribe('http.client.response.finish', ({ request, response }) => {
  const path = request.path.split('?')[0];
  const what = path.startsWith('/v1/') ? 'agent' : 'registry';
  write({ what, method: request.method, path, status: response.statusCode, start: started.get(request) });
});

process.on('exit', () => write({ what: 'exit' }));
