// Field grammars more than one part of the manifest schema uses (manifest.ts,
// manifest-cron.ts).

/** Service, destination, role and cron job names (also as the agent API takes them in paths and queries). */
export const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const NAME_RULE = 'must be 1-63 of a-z, 0-9, "-", "_", starting with a letter or digit';
// ECDH-ES is direct key agreement, so the encrypted-key part is empty.
export const JWE_COMPACT = /^[A-Za-z0-9_-]{1,4096}\.\.[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{0,90000}\.[A-Za-z0-9_-]{1,64}$/;
/**
 * A container env variable name: letters, digits, `_`, `.` and `-`, starting
 * with a letter or `_` (OpenSearch's `discovery.type`, Alloy's
 * `server.http.listen-addr`): Docker and Kamal take them. Docker refuses `=`
 * and empty names; neither, nor NUL, a blank or a line break, gets in here.
 */
export const ENV_VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
