// One HTTP health check of an app: GET a path on its address, passed by a 2xx.
// Redirects are not followed and the body is read only up to a cap, so a
// hostile app cannot stall the caller. The agent checks new containers and
// replicas with it (agent/engine/health.ts); the router checks a target out of
// rotation (agent/router/balancer.ts).
import { request } from 'node:http';

export const HEALTH_BODY_CAP_BYTES = 64 * 1024;

export interface ProbeResult {
  ok: boolean;
  /** `HTTP 500`, or the network error, for the failure message. */
  detail: string;
  timedOut?: boolean;
}

export type HealthProbe = (host: string, port: number, path: string, timeoutMs: number) => Promise<ProbeResult>;

export const probeHttp: HealthProbe = (host, port, path, timeoutMs) => {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = request(
      { host, port, path, method: 'GET', agent: false, headers: { 'user-agent': 'berth-healthcheck', accept: '*/*' } },
      (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read >= HEALTH_BODY_CAP_BYTES) finish({ ok: status >= 200 && status < 300, detail: `HTTP ${status}` });
        });
        res.on('end', () => finish({ ok: status >= 200 && status < 300, detail: `HTTP ${status}` }));
        res.on('error', (err) => finish({ ok: false, detail: err.message }));
      },
    );
    const timer = setTimeout(() => finish({ ok: false, detail: `no answer within ${+(timeoutMs / 1000).toFixed(2)}s`, timedOut: true }), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, detail: err.code ? `${err.code}` : err.message }));
    req.end();
  });
};
