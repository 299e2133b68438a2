// GET /v1/deploys/:id and its live event stream (SSE, resumable by Last-Event-ID).
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { isFinalDeployState } from '../../shared/api-types.js';
import type { DeployResponse, DeployStreamRecords } from '../../shared/api-responses.js';
import { NotFoundError, RateLimitError, UserError } from '../../shared/errors.js';
import type { DeployEvent, DeployRecord } from '../store/index.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';

const ID = /^[1-9][0-9]{0,14}$/;
const KEEPALIVE_MS = 15_000;
// Streams outlive the 60 s request token, so they are bounded: in number (each
// holds a socket and a bus listener), per key, and in time (the CLI resumes
// with Last-Event-ID and a fresh token), and they end when the key is untrusted.
const MAX_STREAMS = 256;
const MAX_STREAMS_PER_KEY = 32;
const MAX_STREAM_MS = 30 * 60_000;

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
    return c.json({ deploy, events: store.events(deploy.id) } satisfies DeployResponse);
  });

  const open = new Map<string, number>();
  let openTotal = 0;

  app.get('/v1/deploys/:id/events', requireToken(deps, 'read'), (c) => {
    const id = mustGet(parseId(c.req.param('id'), 'deploy id')).id;
    const resume = c.req.header('last-event-id');
    let last = resume === undefined || resume === '' ? 0 : parseId(resume, 'Last-Event-ID');
    const kid = c.get('caller').kid;
    if (openTotal >= MAX_STREAMS || (open.get(kid) ?? 0) >= MAX_STREAMS_PER_KEY) {
      throw new RateLimitError('too many open event streams; close some or poll GET /v1/deploys/:id');
    }
    openTotal++;
    open.set(kid, (open.get(kid) ?? 0) + 1);
    const closeSlot = () => {
      openTotal--;
      const n = (open.get(kid) ?? 1) - 1;
      if (n > 0) open.set(kid, n);
      else open.delete(kid);
    };
    const endsAt = Date.now() + MAX_STREAM_MS;

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

      const send = <K extends keyof DeployStreamRecords>(event: K, record: DeployStreamRecords[K], eventId?: string) =>
        stream.writeSSE({ ...(eventId !== undefined ? { id: eventId } : {}), event, data: JSON.stringify(record) });
      const flush = async () => {
        for (const e of store.events(id, last)) {
          await send('progress', e, String(e.id));
          last = e.id;
        }
      };

      try {
        while (!closed && Date.now() < endsAt && store.keys.get(kid)) {
          pending = false;
          await flush();
          const deploy = store.getDeploy(id);
          if (!deploy || isFinalDeployState(deploy.state)) {
            // An engine may record its closing event right after setState in
            // the same tick; let it land before the stream ends.
            await new Promise((r) => setImmediate(r));
            await flush();
            // Deploy rows are never deleted; were one gone, the stream ends without a record to send.
            const final = store.getDeploy(id) ?? deploy;
            if (final) await send('end', final);
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
        closeSlot();
      }
    });
  });
}
