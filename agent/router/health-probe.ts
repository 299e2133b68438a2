// The health check of a target out of rotation (balancer.ts): GET its health
// path on a connection of its own, passed by a 2xx as the agent's deploy
// health check is.

import { request } from 'node:http';
import { splitTarget } from '../../shared/routes.js';
import type { HealthProbe } from './balancer.js';

export const probeHealth: HealthProbe = (target, path, timeoutMs) => {
  const address = splitTarget(target);
  if (!address) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({
      host: address.host,
      port: address.port,
      path,
      method: 'GET',
      agent: false,
      headers: { host: target, 'user-agent': 'berth-router health check', connection: 'close' },
      timeout: timeoutMs,
    });
    const timer = setTimeout(() => req.destroy(new Error('health check timed out')), timeoutMs);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      resolve(ok);
    };
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      // Only the status counts; the body is read and dropped so the connection closes cleanly.
      res.resume();
      res.once('end', () => done(status >= 200 && status < 300));
      res.once('error', () => done(false));
      res.once('close', () => done(false));
    });
    req.once('timeout', () => req.destroy(new Error('health check timed out')));
    req.once('error', () => done(false));
    req.end();
  });
};
