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

// node:http(s): the agent API. One start and one finish per request.
const started = new WeakMap();
dc.subscribe('http.client.request.start', ({ request }) => {
  started.set(request, wall());
});
dc.subscribe('http.client.response.finish', ({ request, response }) => {
  write({ what: 'agent', method: request.method, path: request.path.split('?')[0], status: response.statusCode, start: started.get(request) });
});

// fetch: the registry lookup (cli/registry.ts).
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const start = wall();
  try {
    return await realFetch(input, init);
  } finally {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    write({ what: 'registry', method: init?.method ?? 'GET', path: url.pathname, start });
  }
};

process.on('exit', () => write({ what: 'exit' }));
