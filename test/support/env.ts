// The provisioned test environment (engines, registry, images), handed to the
// test process by scripts/run-tests.mjs as BERTH_TEST_* variables.

export interface TestEngine {
  /** Docker host URL, e.g. unix:///run/berth-test/engine1.sock */
  host: string;
  /** Subnet the agent using this engine must give its `berth` network. */
  subnet: string;
}

export interface TestImages {
  /** GET / answers "v1\n"; /up 200; /cgi-bin/slow?N; /cgi-bin/env?NAME; /cgi-bin/up 200, or 500 once /tmp/sick exists. */
  v1: string;
  v2: string;
  v3: string;
  /** Like v1 but GET / answers "unhealthy\n" and /up answers 500. */
  unhealthy: string;
  /** Like v1 (GET / answers "slowstart\n") but listens only after 8 s. */
  slowstart: string;
}

/** The second registry: every request needs this login (htpasswd, bcrypt). */
export interface TestAuthRegistry {
  /** 127.0.0.1:PORT, plain HTTP. */
  address: string;
  username: string;
  /** Random per registry start; a throwaway test login. */
  password: string;
  /** Tag references ADDRESS/berth-test/web:NAME, the same builds as the open registry's. */
  images: { v1: string; v2: string };
}

export interface TestEnv {
  engines: TestEngine[];
  /** 127.0.0.1:PORT, plain HTTP. */
  registry: string;
  /** Tag references REGISTRY/berth-test/web:NAME; absent from every engine at start. */
  images: TestImages;
  authRegistry: TestAuthRegistry;
  /** The repository root. */
  root: string;
}

const RUNNER_HINT =
  'integration and e2e tests need the fixtures that scripts/run-tests.mjs provisions; ' +
  'run `npm test`, or `node scripts/run-tests.mjs integration` (or a file path) after `npm run build`';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: ${RUNNER_HINT}`);
  return value;
}

function parseJson(name: string): unknown {
  const raw = required(name);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new Error(`${name} is not valid JSON: ${RUNNER_HINT}`);
  }
}

function isEngine(e: unknown): e is TestEngine {
  const o = e as Partial<TestEngine> | null;
  return typeof o?.host === 'string' && typeof o.subnet === 'string';
}

const IMAGE_NAMES = ['v1', 'v2', 'v3', 'unhealthy', 'slowstart'] as const;

function isImages(i: unknown): i is TestImages {
  const o = i as Record<string, unknown> | null;
  return o !== null && typeof o === 'object' && IMAGE_NAMES.every((n) => typeof o[n] === 'string');
}

function isAuthRegistry(a: unknown): a is TestAuthRegistry {
  const o = a as Partial<TestAuthRegistry> | null;
  return (
    typeof o?.address === 'string' &&
    typeof o.username === 'string' &&
    typeof o.password === 'string' &&
    typeof o.images?.v1 === 'string' &&
    typeof o.images.v2 === 'string'
  );
}

let cached: TestEnv | undefined;

export function testEnv(): TestEnv {
  if (cached) return cached;
  const engines = parseJson('BERTH_TEST_ENGINES');
  const images = parseJson('BERTH_TEST_IMAGES');
  if (!Array.isArray(engines) || engines.length < 2 || !engines.every(isEngine)) {
    throw new Error(`BERTH_TEST_ENGINES must list at least two {host, subnet}: ${RUNNER_HINT}`);
  }
  if (!isImages(images)) throw new Error(`BERTH_TEST_IMAGES must name ${IMAGE_NAMES.join(', ')}: ${RUNNER_HINT}`);
  const authRegistry = parseJson('BERTH_TEST_AUTH_REGISTRY');
  if (!isAuthRegistry(authRegistry)) {
    throw new Error(`BERTH_TEST_AUTH_REGISTRY must be {address, username, password, images: {v1, v2}}: ${RUNNER_HINT}`);
  }
  cached = { engines, images, authRegistry, registry: required('BERTH_TEST_REGISTRY'), root: required('BERTH_TEST_ROOT') };
  return cached;
}

/** Splits `HOST:PORT/repo/path:tag` into registry, repository and tag. */
export function splitImageRef(ref: string): { registry: string; repo: string; tag: string } {
  const slash = ref.indexOf('/');
  const colon = ref.lastIndexOf(':');
  if (slash < 0 || colon < slash) throw new Error(`not a REGISTRY/REPO:TAG reference: ${ref}`);
  return { registry: ref.slice(0, slash), repo: ref.slice(slash + 1, colon), tag: ref.slice(colon + 1) };
}
