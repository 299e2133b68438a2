// A valid release manifest payload to start each test from; tests change one
// thing at a time.
import { randomBytes } from 'node:crypto';
import type { ManifestPayload } from '../../shared/manifest.js';

export const DIGEST = `sha256:${'a'.repeat(64)}`;
export const KID = 'k'.repeat(42) + 'A';
export const AGENT = 'g'.repeat(42) + 'A';

export function minimalManifest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'berth/v1',
    iss: KID,
    aud: AGENT,
    sub: 'demo',
    iat: 1_700_000_000,
    exp: 1_700_000_300,
    jti: 'abcdefghijklmnopqrstuv',
    seq: 1,
    service: 'demo',
    destination: '',
    version: 'abc123',
    image: `registry.example.com:5000/team/demo@${DIGEST}`,
    roles: { web: {} },
    ...over,
  };
}

export function fullManifest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return minimalManifest({
    sub: 'demo@staging',
    destination: 'staging',
    roles: {
      web: {
        cmd: ['bin/server', '--port', '3000'],
        env: { clear: { RAILS_ENV: 'production' }, secret: { DB_PASSWORD: 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn' } },
        labels: { 'com.example.team': 'web' },
        proxy: {
          hosts: ['demo.example.com', '*.demo.example.com'],
          app_port: 3000,
          healthcheck: { path: '/health', interval: 2, timeout: 3 },
          response_timeout: 30,
        },
      },
      worker: { cmd: ['bin/jobs'], env: { clear: {}, secret: {} } },
    },
    deploy_timeout: 60,
    drain_timeout: 10,
    readiness_delay: 3,
    stop_timeout: 5,
    retain_containers: 2,
    ...over,
  });
}

/** The key id the store tests sign as. */
export const STORE_KID = 'k'.repeat(43);

/**
 * A payload as the store keeps it (defaults filled in), with a fresh jti and
 * current times, for tests of the store itself: `over` replaces whole fields.
 */
export function storedPayload(over: Partial<ManifestPayload> = {}): ManifestPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    apiVersion: 'berth/v1', iss: STORE_KID, aud: 'a'.repeat(43), sub: 'demo', iat: now, exp: now + 300,
    jti: randomBytes(16).toString('base64url'), seq: 1, service: 'demo', destination: '', version: 'v1',
    image: `reg/demo@sha256:${'a'.repeat(64)}`,
    roles: { web: { env: { clear: {}, secret: {} } } },
    deploy_timeout: 30, drain_timeout: 30, readiness_delay: 7, stop_timeout: 10, retain_containers: 5,
    ...over,
  } as ManifestPayload;
}
