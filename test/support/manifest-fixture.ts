// A valid release manifest payload to start each test from; tests change one
// thing at a time.
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
