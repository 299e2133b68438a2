// Follows one deploy's event stream to its end, resuming with Last-Event-ID
// when the connection drops, and falling back to reading the record.

import type { DeployEvent, DeployRecord } from '../../shared/api-types.js';
import { BerthError, UpstreamError } from '../../shared/errors.js';
import type { AgentClient } from './client.js';
import { openDeployEvents, parseDeployRecord, readDeploy } from './endpoints.js';
import { SseParser } from './sse.js';

export interface FollowOptions {
  onEvent(event: DeployEvent): void;
  /** Silence after which the stream is treated as dead and reopened. */
  idleTimeoutMs?: number;
  maxReconnects?: number;
  sleep?: (ms: number) => Promise<void>;
}

const FINAL = new Set(['DONE', 'REVERTED']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseDeployEvent(data: string): DeployEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(value) || typeof value.id !== 'number' || typeof value.state !== 'string' || typeof value.message !== 'string') return undefined;
  const progress = typeof value.progress === 'number' && Number.isFinite(value.progress) ? Math.max(0, Math.min(100, value.progress)) : undefined;
  return { ...(value as unknown as DeployEvent), ...(progress !== undefined ? { progress } : {}) };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function followDeploy(client: AgentClient, deployId: number, options: FollowOptions): Promise<DeployRecord> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
  const maxReconnects = options.maxReconnects ?? 5;
  const sleep = options.sleep ?? defaultSleep;
  let lastEventId: string | undefined;
  let lastSeen = 0;
  let failures = 0;
  let lastError: unknown;

  for (;;) {
    try {
      const res = await openDeployEvents(client, deployId, lastEventId, idleTimeoutMs);
      const parser = new SseParser();
      try {
        for await (const chunk of res) {
          for (const message of parser.push(chunk as Buffer)) {
            if (message.id !== undefined) lastEventId = message.id;
            if (message.event === 'end') return parseDeployRecord(JSON.parse(message.data), client.label);
            if (message.event !== 'progress') continue;
            const event = parseDeployEvent(message.data);
            // Events replayed after a reconnect are shown once.
            if (!event || event.id <= lastSeen) continue;
            lastSeen = event.id;
            failures = 0;
            options.onEvent(event);
          }
        }
      } finally {
        res.destroy();
      }
      lastError = new UpstreamError(`the event stream from ${client.label} ended before the deploy finished`);
    } catch (err) {
      // The agent refused (auth, not found): reconnecting cannot help.
      if (err instanceof BerthError && err.status >= 400 && err.status < 500 && err.code !== 'rate_limited') throw err;
      lastError = err;
    }
    failures += 1;
    if (failures > maxReconnects) return finalRecordOrThrow(client, deployId, lastError);
    await sleep(Math.min(250 * 2 ** failures, 5000));
  }
}

async function finalRecordOrThrow(client: AgentClient, deployId: number, cause: unknown): Promise<DeployRecord> {
  try {
    const record = await readDeploy(client, deployId);
    if (FINAL.has(record.state)) return record;
  } catch {
    // Reported below with the stream's own failure, which is the more useful one.
  }
  const why = cause instanceof Error ? cause.message : 'the connection failed';
  throw new UpstreamError(`lost track of deploy #${deployId} on ${client.label}: ${why}`, `it may still finish; check with \`deploy status\``);
}
