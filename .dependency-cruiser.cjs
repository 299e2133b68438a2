// The layering of agent/, cli/ and shared/, checked by dependency-cruiser.
// test/unit/layering.test.ts runs these rules in the unit suite (so `npm test`
// fails when one is broken); `npm run lint:layers` runs them for humans.
// test/fixtures/layering/ plants one violation per rule to prove each bites.
//
// Paths are relative to the cruise's base directory (the repository root).
// bench/ and test/ stand outside the layering; only "no-test-imports" looks
// at them. Type-only imports count (tsPreCompilationDeps): a type tie is a
// tie, and an import circle of types is still a circle.

const SOURCES = '^(agent|cli|shared)/';

/** A resolved npm package, or its @types twin (type-only imports resolve there). */
function pkg(...names) {
  return names.map((n) => `(^|/)node_modules/(@types/)?${n}/`);
}

// Each external library lives behind one adapter; a library not listed here
// is refused until someone decides where it belongs (a new row below).
const ADAPTERS = [
  {
    name: 'hono',
    packages: pkg('hono', '@hono/[^/]+'),
    allowed: '^agent/api/',
    why: 'hono and @hono/* are the HTTP framework of the agent API: only agent/api/ speaks them.',
  },
  {
    name: 'dockerode',
    packages: pkg('dockerode', 'docker-modem'),
    allowed: '^agent/docker(-streams)?[.]ts$',
    why: 'Docker is reached through agent/docker.ts (the DockerPort) and its stream helpers only.',
  },
  {
    name: 'better-sqlite3',
    packages: pkg('better-sqlite3'),
    allowed: '^agent/store/db[.]ts$',
    why: 'SQLite is opened in agent/store/db.ts; the repositories take its handle.',
  },
  {
    name: 'jose',
    packages: pkg('jose'),
    allowed: '^shared/jose[.]ts$',
    why: 'JWS/JWK handling goes through shared/jose.ts so both binaries sign and verify one way.',
  },
  {
    name: 'yaml',
    packages: pkg('yaml'),
    allowed: '^cli/config/yaml[.]ts$',
    why: 'deploy.yml is parsed in cli/config/yaml.ts, which keeps the key paths for messages.',
  },
  {
    name: 'ws',
    packages: pkg('ws'),
    allowed: '^(agent/api/websocket|cli/exec-socket)[.]ts$',
    why: 'WebSockets (exec) are one adapter on each side: agent/api/websocket.ts and cli/exec-socket.ts.',
  },
  {
    name: 'cron',
    packages: pkg('cron'),
    allowed: '^shared/cron-schedule[.]ts$',
    why: 'Cron schedules are read and their next times computed in shared/cron-schedule.ts only (the CLI checks deploy.yml and the agent runs jobs with one reading).',
  },
  {
    name: 'semver',
    packages: pkg('semver'),
    allowed: '^shared/tag-pattern[.]ts$',
    why: 'Version ranges of auto_deploy tag patterns are read and compared in shared/tag-pattern.ts only.',
  },
  {
    name: 'picomatch',
    packages: pkg('picomatch'),
    allowed: '^shared/tag-pattern[.]ts$',
    why: 'Tag globs of auto_deploy policies are compiled in shared/tag-pattern.ts only, with one set of options.',
  },
  {
    name: 'tar-stream',
    packages: pkg('tar-stream'),
    allowed: '^agent/backups/tar[.]ts$',
    why: 'Tar archives (volume backups and restores) are parsed and written in agent/backups/tar.ts only, where the entry policy is applied.',
  },
  {
    name: 'acme-client',
    packages: pkg('acme-client'),
    allowed: '^agent/tls/acme[.]ts$',
    why: 'The ACME client (axios, node-forge) loads lazily in agent/tls/acme.ts only; nothing else, and never the router, touches it.',
  },
  {
    name: 'age-encryption',
    packages: pkg('age-encryption'),
    allowed: '^shared/age[.]ts$',
    why: 'Backup files are encrypted (agent) and decrypted (CLI) through shared/age.ts only.',
  },
  {
    name: 'undici',
    packages: pkg('undici'),
    allowed: '^agent/router/target-pool[.]ts$',
    why: "The router's connections to targets are undici pools, opened and closed in agent/router/target-pool.ts only.",
  },
  {
    // zod is the schema language, not an effect, but still one library with
    // one place per side: schemas of data that crosses a trust boundary.
    //  - shared/: the wire schemas, the contract between agent and CLI (manifest,
    //    routes, identity, maintenance, service detail); types derive from them.
    //  - agent/api/: request-body validation at the HTTP boundary, next to the
    //    routes that accept the bodies (locks, releases, maintenance, ops input).
    //  - cli/config/: validation of the operator's deploy.yml and its findings.
    // Core, engine, store, router and CLI commands take already-parsed types.
    name: 'zod',
    packages: pkg('zod'),
    allowed: '^(shared|agent/api|cli/config)/',
    why: 'zod schemas describe data crossing a trust boundary: shared/ (wire), agent/api/ (request bodies), cli/config/ (deploy.yml).',
  },
];

// I/O a pure module must not do: files, sockets, HTTP, processes.
const EFFECT_BUILTINS = '^(node:)?(fs|fs/promises|net|http|https|http2|tls|child_process|dgram|dns)$';
const EFFECT_PACKAGES = pkg('dockerode', 'better-sqlite3', 'hono', '@hono/[^/]+', 'ws', 'undici');
const PURE = '(^|/)core/|^shared/';

const adapterRules = ADAPTERS.map((a) => ({
  name: `adapter-${a.name}`,
  severity: 'error',
  comment: a.why,
  from: { path: SOURCES, pathNot: a.allowed },
  to: { path: a.packages },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle ties its modules into one unit that cannot be read, tested or loaded alone; break it by moving the shared piece down.',
      from: { path: SOURCES },
      to: { circular: true },
    },
    {
      name: 'pure-no-effects',
      severity: 'error',
      comment: 'core/ folders and shared/ are pure logic (no docker, sqlite, http, fs, net): the caller does the I/O and passes values in, so they test without fakes.',
      from: { path: PURE },
      to: { path: [EFFECT_BUILTINS, ...EFFECT_PACKAGES] },
    },
    {
      name: 'core-only-core-and-shared',
      severity: 'error',
      comment: 'A core/ folder imports only itself and shared/: reaching into its binary would pull effects (docker, store, router) in through the back door.',
      from: { path: '^(agent|cli)/(|.*/)core/' },
      to: { path: '^(agent|cli)/', pathNot: ['^(agent|cli)/(|.*/)core/'] },
    },
    {
      name: 'shared-not-binaries',
      severity: 'error',
      comment: 'shared/ is used by both binaries, so it cannot depend on either of them.',
      from: { path: '^shared/' },
      to: { path: '^(agent|cli)/' },
    },
    {
      name: 'agent-not-cli',
      severity: 'error',
      comment: 'The agent and the CLI are separate programs; what both need goes in shared/.',
      from: { path: '^agent/' },
      to: { path: '^cli/' },
    },
    {
      name: 'cli-not-agent',
      severity: 'error',
      comment: 'The agent and the CLI are separate programs; what both need goes in shared/.',
      from: { path: '^cli/' },
      to: { path: '^agent/' },
    },
    {
      name: 'cli-infra-not-commands',
      severity: 'error',
      comment: 'cli/commands/ holds only leaves (one file per command). Machinery the commands share lives outside it and must not reach back in; only cli/main.ts, which builds the command table, imports commands.',
      from: { path: '^cli/', pathNot: ['^cli/commands/', '^cli/main[.]ts$'] },
      to: { path: '^cli/commands/' },
    },
    {
      name: 'no-test-imports',
      severity: 'error',
      comment: 'Production code never depends on test support or fixtures; test seams live in the source tree (e.g. agent/test-seams/).',
      from: { path: SOURCES },
      to: { path: '^test/' },
    },
    ...adapterRules,
    {
      name: 'external-unlisted',
      severity: 'error',
      comment: 'Every external package needs a decision: add it to ADAPTERS in .dependency-cruiser.cjs with the one place allowed to import it.',
      from: { path: SOURCES },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'],
        pathNot: ADAPTERS.flatMap((a) => a.packages),
      },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve cannot be checked against the rules above (and will not load).',
      from: { path: SOURCES },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    cache: false,
  },
};
