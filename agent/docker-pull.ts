// Reading Docker's pull progress stream: JSON lines in, overall percent and the
// end (or failure, or silence) of the pull out. No dockerode here: it is only a stream.
import { UpstreamError } from '../shared/errors.js';
import { imageRegistry } from '../shared/manifest.js';

export interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** Rough overall percent from per-layer byte counts; reports only when it moves. */
export function createPullProgress(): (event: PullEvent) => { percent: number; message: string } | undefined {
  const layers = new Map<string, { current: number; total: number }>();
  let last = -1;
  return (event) => {
    const status = event.status ?? '';
    if (event.id && /^[0-9a-f]{12}$/.test(event.id)) {
      const layer = layers.get(event.id) ?? { current: 0, total: 0 };
      const detail = event.progressDetail ?? {};
      // Extraction reports bytes again; count only downloads, then mark done.
      if (status === 'Downloading' && detail.total) {
        layer.total = detail.total;
        layer.current = Math.min(detail.current ?? 0, detail.total);
      } else if (/^(Download complete|Pull complete|Already exists)$/.test(status)) {
        layer.total ||= 1;
        layer.current = layer.total;
      }
      layers.set(event.id, layer);
    }
    let current = 0;
    let total = 0;
    let known = 0;
    for (const l of layers.values()) {
      if (l.total > 0) known++;
      current += l.current;
      total += l.total;
    }
    // Layers whose size is not yet known count as not started.
    const fraction = total > 0 ? (current / total) * (known / Math.max(layers.size, 1)) : 0;
    // Layers appear as the pull goes, so the raw fraction can dip; a progress bar must not.
    const percent = Math.min(99, Math.floor(fraction * 100));
    if (percent <= last) return undefined;
    last = percent;
    return { percent, message: `${status || 'pulling'}${event.id ? ` ${event.id}` : ''}`.trim() };
  };
}

/**
 * Follows a pull's progress stream (one JSON object per line) to its end. The
 * engine answers 200 and then reports failures inside the stream, so the pull
 * is only done (or failed) when the stream ends; a stream that goes quiet for
 * inactivityMs is given up on.
 */
export function followPull(
  stream: NodeJS.ReadableStream,
  ref: string,
  o: { inactivityMs: number; onEvent?: (event: PullEvent) => void },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let buffered = '';
    let streamError: string | undefined;
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else if (streamError) reject(new UpstreamError(`docker pull ${ref} failed: ${streamError}`));
      else resolve();
    };
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        done(new UpstreamError(`docker pull ${ref} made no progress for ${o.inactivityMs / 1000}s; giving up`, 'check that the registry is reachable from this server'));
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      }, o.inactivityMs);
    };
    const line = (text: string) => {
      if (!text.trim()) return;
      let event: PullEvent;
      try {
        event = JSON.parse(text) as PullEvent;
      } catch {
        return; // Not ours to judge: Docker only ever sends JSON lines here.
      }
      if (event.error || event.errorDetail?.message) {
        streamError ??= String(event.errorDetail?.message ?? event.error);
        return;
      }
      o.onEvent?.(event);
    };
    arm();
    stream.on('data', (chunk: Buffer | string) => {
      arm();
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) line(l);
    });
    stream.on('end', () => {
      line(buffered);
      done();
    });
    stream.on('error', (err: Error) => done(new UpstreamError(`docker pull ${ref} failed: ${err.message}`)));
    // After 'end' this is a no-op; without it the daemon hung up mid-pull.
    stream.on('close', () => done(new UpstreamError(`docker pull ${ref} failed: the stream closed before the pull finished`)));
  });
}

/** Who a pull authenticated as; never the password. */
export interface PullIdentity {
  server: string;
  username: string;
}

// Docker's words for a registry that refused who we are (or that we are nobody):
// `unauthorized: authentication required`, `pull access denied`, `no basic auth
// credentials`, `denied: requested access to the resource is denied`, a bare 401.
const AUTH_REFUSED = /unauthori[sz]ed|authentication required|access denied|access to the resource is denied|no basic auth credentials|incorrect username or password|\b401\b|\bdenied\b/i;

/**
 * Turns a failed pull into the deploy error a user reads: a refused login names
 * the registry and the user, and says so; other failures pass through. Every
 * message is scrubbed of the secrets given, whatever Docker put in it.
 */
export function describePullFailure(err: unknown, ref: string, who: PullIdentity | undefined, secrets: readonly string[] = []): Error {
  const message = scrub(err instanceof Error ? err.message : String(err), secrets);
  const hint = err instanceof UpstreamError ? err.hint : undefined;
  if (AUTH_REFUSED.test(message)) {
    // dockerode's status prefix says nothing the registry's own words do not.
    const detail = message.replace(/^docker pull \S+ failed: /, '').replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
    if (who) {
      return new UpstreamError(
        `registry ${who.server} rejected the credentials of user ${who.username} (pulling ${ref}): ${detail}`,
        `check registry.username and the registry password secret, and that ${who.username} may pull this repository`,
        'registry_auth_failed',
      );
    }
    return new UpstreamError(
      `registry ${imageRegistry(ref)} requires credentials to pull ${ref}: ${detail}`,
      'add registry: server, username and password to deploy.yml',
      'registry_auth_failed',
    );
  }
  if (err instanceof UpstreamError) return message === err.message ? err : new UpstreamError(message, hint, err.code);
  return new UpstreamError(message);
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) out = out.split(s).join('[redacted]');
  return out;
}
