// POST /v1/services/:name/exec (NDJSON output, then the exit code) and
// GET /v1/services/:name/exec/ws (interactive, over a WebSocket). Admin only:
// a command runs with the app's secrets. Everything a caller can get wrong is
// refused before anything starts; every run is audited when it ends.
import type { Context, Hono } from 'hono';
import type { ExecRecord } from '../../shared/api-responses.js';
import { BerthError, RateLimitError } from '../../shared/errors.js';
import type { ProcessSession } from '../docker.js';
import { resolveExecTarget, startExec, type ExecDeps, type ExecRequest, type ExecTarget } from '../ops/exec.js';
import { requireToken } from './auth.js';
import { opsOf, type ApiDeps, type ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { ndjsonResponse } from './ndjson.js';
import { boolParam, parseCmdParam, parseExecBody } from './ops-input.js';
import { optionalName, optionalRole, serviceQuery, serviceTarget } from './params.js';
import { interactiveExec } from './exec-socket.js';

/** Each run holds a container or a Docker connection. */
const MAX_EXECS = 16;

interface ExecRun {
  keyId: string;
  req: ExecRequest;
  target: ExecTarget;
  interactive: boolean;
}

export function execRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  let running = 0;
  const refuseWhenFull = () => {
    if (running >= MAX_EXECS) throw new RateLimitError(`too many commands running on this agent (${MAX_EXECS}); try again when some have ended`);
  };
  const slot = (): (() => void) => {
    refuseWhenFull();
    running++;
    let freed = false;
    return () => {
      if (!freed) running--;
      freed = true;
    };
  };
  const execDeps = (): ExecDeps => {
    const ops = opsOf(deps);
    return {
      store: deps.store,
      docker: ops.docker,
      hostname: ops.hostname,
      network: ops.network,
      sealingPrivateJwk: deps.identity.sealingPrivateJwk,
      guardrails: deps.guardrails,
      ...(ops.unseal ? { unseal: ops.unseal } : {}),
    };
  };

  app.post('/v1/services/:name/exec', requireToken(deps, 'admin'), async (c) => {
    const ref = serviceTarget(c);
    const body = parseExecBody(parseJsonBody(c.get('rawBody')));
    const req: ExecRequest = { ...ref, cmd: body.cmd, role: body.role, accessory: body.accessory, reuse: body.reuse ?? false };
    const ed = execDeps();
    const target = await resolveExecTarget(ed, req);
    const free = slot();
    let session: ProcessSession;
    try {
      session = await startExec(ed, target, req.cmd, { tty: false, stdin: false });
    } catch (err) {
      free();
      throw err;
    }
    const run: ExecRun = { keyId: c.get('caller').kid, req, target, interactive: false };
    return ndjsonResponse<ExecRecord>(c, deps.log, async (write, signal) => {
      const onAbort = () => void session.dispose();
      signal.addEventListener('abort', onAbort, { once: true });
      let exitCode: number | null = null;
      try {
        // One decoder per stream: a UTF-8 character may be split across chunks.
        const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
        for await (const chunk of session.output) {
          if (signal.aborted) break;
          await write({ stream: chunk.stream, data: decoders[chunk.stream].decode(chunk.data, { stream: true }) });
        }
        // A process may end in the middle of a character: its bytes are written, as U+FFFD.
        for (const stream of ['stdout', 'stderr'] as const) {
          const rest = decoders[stream].decode();
          if (rest !== '' && !signal.aborted) await write({ stream, data: rest });
        }
        if (!signal.aborted) exitCode = await session.exitCode();
        await write({ exit_code: exitCode });
      } finally {
        signal.removeEventListener('abort', onAbort);
        await session.dispose();
        free();
        auditExec(deps, run, exitCode);
      }
    });
  });

  app.get('/v1/services/:name/exec/ws', requireToken(deps, 'admin'), async (c) => {
    const { target: ref, query } = serviceQuery(c, ['role', 'accessory', 'reuse', 'tty', 'cmd']);
    const req: ExecRequest = {
      ...ref,
      cmd: parseCmdParam(query.cmd),
      role: optionalRole(query.role),
      accessory: optionalName(query.accessory, 'accessory'),
      reuse: boolParam('reuse', query.reuse),
    };
    const tty = boolParam('tty', query.tty);
    requireUpgrade(c);
    const upgrade = deps.upgradeWebSocket;
    if (!upgrade) throw new BerthError('unavailable', 503, 'this agent was started without WebSocket support');
    const ed = execDeps();
    const target = await resolveExecTarget(ed, req);
    // Refused with a status while one still can; the place itself is taken only
    // once the socket is open (the upgrade can still fail, or the client hang up).
    refuseWhenFull();
    const run: ExecRun = { keyId: c.get('caller').kid, req, target, interactive: true };
    let free: (() => void) | undefined;
    let started = false;
    return await upgrade(c, interactiveExec({
      start: async () => {
        free = slot();
        const session = await startExec(ed, target, req.cmd, { tty, stdin: true });
        started = true;
        return session;
      },
      log: deps.log,
      done: (exitCode) => {
        free?.();
        // As with POST: a command that never started is not a run.
        if (started) auditExec(deps, run, exitCode);
      },
    }));
  });
}

function requireUpgrade(c: Context): void {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new BerthError('upgrade_required', 426, 'this endpoint speaks WebSocket only', 'use POST /v1/services/:name/exec for a command without input');
  }
}

/** The command line is the operator's own; never the environment. */
function auditExec(deps: ApiDeps, run: ExecRun, exitCode: number | null): void {
  try {
    deps.store.audit.record({
      keyId: run.keyId,
      action: 'exec',
      service: run.req.service,
      destination: run.req.destination,
      detail: { ...(run.target.accessory ? { accessory: run.target.accessory } : { role: run.target.role }), release: run.target.release, cmd: run.req.cmd, reuse: run.req.reuse, interactive: run.interactive, exit_code: exitCode },
    });
  } catch (err) {
    deps.log.error('could not record an exec in the audit log', { err });
  }
}
