// The agent advertises FEATURES in its identity document so a CLI can refuse,
// with a clear message, to send fields an older agent would reject.
// sealing.bound.v1: sealed values carry (and the agent checks) the service,
// destination and name they were sealed for (shared/sealing.ts).
// auto_deploy.v1: the manifest may carry an auto_deploy policy: what the agent may
// deploy by itself on a registry webhook or poll (shared/manifest.ts).
// cron.v1: the manifest may carry cron jobs and a notify hook (shared/manifest-cron.ts).
// accessories.v1: the manifest may carry accessories the agent runs (shared/manifest.ts).
// backups.v1: the manifest may carry backups the agent takes (shared/manifest-backups.ts).
// proxy.paths.v1, proxy.buffering.v1, proxy.logging.v1: a role's proxy may carry
// path_prefixes/strip_path_prefix, body limits and request-log headers.
// proxy.buffer.v1: a role's proxy buffering may carry requests, responses and memory
// (whole-body buffering; absent means Kamal's defaults, applied by agents that have it).
// proxy.pause.v1: POST /v1/services/:name/proxy/pause and /proxy/resume (`deploy proxy pause|resume`).
// roles.replicas.v1: a role may carry replicas (several containers per server, balanced by the router).
// env.names.v1: env variable names may hold dots and dashes (shared/manifest-names.ts ENV_VARIABLE_NAME).
// roles.assets.v1: a proxied role may carry assets (Kamal's asset_path, bridged across releases).
// app.stop.v1: POST /v1/services/:name/app/stop and /app/start (`deploy app stop|start`, shared/app-state.ts).
// proxy.error_pages.v1: the manifest may carry error_pages (Kamal's error_pages_path; shared/error-pages.ts).
// proxy.tls.v1: a role's proxy may carry ssl (true, or a sealed certificate and key) and ssl_redirect.
// roles.docker.v2: a role's options may carry volume, mount, publish, network-alias and
// security-opt (shared/docker-mounts.ts), judged by the agent's guardrails.
// accessories.docker.v2: an accessory's options may carry volume, mount, publish and
// network-alias, judged as a role's.
// accessories.proxy.v1: an accessory may carry proxy (routed by the router once healthy).
export const BERTH_VERSION = '0.1.0';

export const FEATURES: readonly string[] = Object.freeze(['releases.v1', 'sse.events', 'registry.auth.v1', 'roles.docker.v1', 'bake.v1', 'rollback.v1', 'sealing.bound.v1', 'proxy.forward_headers.v1', 'proxy.tls.v1', 'auto_deploy.v1', 'cron.v1', 'accessories.v1', 'backups.v1', 'proxy.paths.v1', 'proxy.buffering.v1', 'proxy.logging.v1', 'proxy.pause.v1', 'proxy.buffer.v1', 'roles.replicas.v1', 'env.names.v1', 'roles.assets.v1', 'roles.docker.v2', 'accessories.docker.v2', 'app.stop.v1', 'proxy.error_pages.v1', 'accessories.proxy.v1']);
