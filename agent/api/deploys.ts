// GET /v1/deploys/:id and its live event stream (SSE, resumable by Last-Event-ID).
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { NotFoundError, UserError } from '../../shared/errors.js';
import type { DeployEvent, DeployRecord } from '../store/index.js';
import { FINAL_STATES } from '../store/index.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';

const ID = /^[1-9][0-9]{0,14}$/;
const KEEPALIVE_MS = 15_000;

function parseId(value: string | undefined, what: string): number {
  if (value === undefined || !ID.test(value)) throw new UserError(`${what} must be a positive integer`);
  return Number(value);
}

export function deployRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;
  const mustGet = (id: number): DeployRecord => {
    const d = store.getDeploy(id);
    if (!d) throw new NotFoundError(`deploy ${id} not found`);
    return d;
  };

  app.get('/v1/deploys/:id', requireToken(deps, 'read'), (c) => {
    const deploy = mustGet(parseId(c.req.param('id'), 'deploy id'));
    return c.json({ deploy, events: store.events(deploy.id) });
  });

  app.get('/v1/deploys/:id/events', requireToken(deps, 'read'), (c) => {
    const id = mustGet(parseId(c.req.param('id'), 'deploy id')).id;
    const resume = c.req.header('last-event-id');
    let last = resume === undefined || resume === '' ? 0 : parseId(resume, 'Last-Event-ID');

    return streamSSE(c, async (stream) => {
      // The store is the source of truth; bus events only say "look again".
      let wake: (() => void) | undefined;
      let pending = false;
      const poke = () => {
        pending = true;
        wake?.();
      };
      const onEvent = (e: DeployEvent) => e.deploy_id === id && poke();
      const onFinal = (d: DeployRecord) => d.id === id && poke();
      store.bus.on('event', onEvent);
      store.bus.on('final', onFinal);
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        poke();
      });

      const flush = async () => {
        for (const e of store.events(id, last)) {
          await stream.writeSSE({ id: String(e.id), event: 'progress', data: JSON.stringify(e) });
          last = e.id;
        }
      };

      try {
        while (!closed) {
          pending = false;
          await flush();
          const deploy = store.getDeploy(id);
          if (!deploy || FINAL_STATES.has(deploy.state)) {
            // An engine may record its closing event right after setState in
            // the same tick; let it land before the stream ends.
            await new Promise((r) => setImmediate(r));
            await flush();
            await stream.writeSSE({ event: 'end', data: JSON.stringify(store.getDeploy(id) ?? deploy) });
            return;
          }
          if (pending) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => resolve(), KEEPALIVE_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (!pending && !closed) await stream.write(': keepalive\n\n');
        }
      } finally {
        store.bus.off('event', onEvent);
        store.bus.off('final', onFinal);
      }
    });
  });
}
