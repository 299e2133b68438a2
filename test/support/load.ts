// A bounded load client for switch tests. A request fails when it ends in a
// socket error, a non-2xx status, or a body that is not one of the expected versions.
import http from 'node:http';

export interface LoadReport {
  total: number;
  failures: string[];
  seen: Record<string, number>;
}

export interface LoadOptions {
  ip: string;
  port: number;
  host: string;
  accept: string[];
  /** Parallel request loops; half reuse keep-alive connections, half open a new one per request. */
  loops?: number;
  /** Hard bounds so a broken router can never make the test spin forever. */
  maxRequests?: number;
  maxMs?: number;
}

export interface RunningLoad {
  stop(): Promise<LoadReport>;
  report: LoadReport;
}

function once(opts: LoadOptions, agent: http.Agent | false): Promise<{ ok: boolean; body: string; why?: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: opts.ip, port: opts.port, path: '/', headers: { host: opts.host }, agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) resolve({ ok: false, body, why: `HTTP ${status}: ${body.slice(0, 80)}` });
          else resolve({ ok: true, body });
        });
        res.on('error', (e) => resolve({ ok: false, body, why: `response error ${e.message}` }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, body: '', why: `socket error ${e.message}` }));
    req.end();
  });
}

export function startLoad(opts: LoadOptions): RunningLoad {
  const report: LoadReport = { total: 0, failures: [], seen: {} };
  const loops = opts.loops ?? 4;
  const maxRequests = opts.maxRequests ?? 200_000;
  const deadline = Date.now() + (opts.maxMs ?? 120_000);
  let stopping = false;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: loops });

  const loop = async (agent: http.Agent | false) => {
    while (!stopping && report.total < maxRequests && Date.now() < deadline) {
      const r = await once(opts, agent);
      report.total++;
      const body = r.body.trim();
      if (!r.ok) report.failures.push(r.why ?? 'failed');
      else if (!opts.accept.includes(body)) report.failures.push(`unexpected body ${JSON.stringify(body.slice(0, 80))}`);
      else report.seen[body] = (report.seen[body] ?? 0) + 1;
    }
  };
  const running = Array.from({ length: loops }, (_, i) => loop(i % 2 === 0 ? keepAlive : false));

  return {
    report,
    async stop() {
      stopping = true;
      await Promise.all(running);
      keepAlive.destroy();
      return report;
    },
  };
}
