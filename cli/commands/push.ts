// deploy push (alias deploy): resolve the image once, then per server sign a
// manifest for that agent, post it, and follow the deploy to its end.

import type { DeployRecord } from '../../shared/api-types.js';
import { BerthError, UpstreamError } from '../../shared/errors.js';
import { signManifest } from '../../shared/manifest-signing.js';
import { imageRegistry } from '../../shared/manifest.js';
import { seal } from '../../shared/sealing.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import type { DeployConfig } from '../config/schema.js';
import { planContainers, type Plan } from '../config/plan.js';
import { followDeploy, parseDeployRecord } from '../follow-deploy.js';
import { describeImage, parseImageReference, pinnedImage } from '../image-reference.js';
import { readKeyFile, resolveKeyPath, type OperatorKeyFile } from '../keys.js';
import { bakeNotice, buildManifestPayload, checkDeployable, nextSeq, rolesOnHost } from '../manifest-builder.js';
import type { HostResult } from '../output/deploy.js';
import { createPushReporter, type PushReporter } from '../output/push-reporter.js';
import { checkPinnedIdentity, connectPinned, readIdentity } from '../pinning.js';
import { resolveImageDigest } from '../registry.js';
import { gatherReleaseInputs, type ReleaseInputs } from '../release-inputs.js';
import { releaseVersion } from '../release-version.js';
import { loadAppConfig } from './config.js';
import { flag, mapBounded, stringOption, type CommandContext } from './context.js';
import { readServiceSeq } from './status.js';

const MAX_PARALLEL_SERVERS = 8;
// What an agent must understand to accept what this CLI sends.
const REQUIRED_FEATURES = ['releases.v1', 'roles.docker.v1'];

interface Release {
  config: DeployConfig;
  plan: Plan;
  inputs: ReleaseInputs;
  appDir: string;
  key: OperatorKeyFile;
  version: string;
  image: string;
  trustNew: boolean;
}

interface HostOutcome extends HostResult {
  cause?: unknown;
}

export async function pushCommand(ctx: CommandContext): Promise<void> {
  const { config, appDir } = await loadAppConfig(ctx);
  const plan = planContainers(config);
  for (const warning of checkDeployable(plan)) ctx.printer.err(warning);
  const key = await readKeyFile(resolveKeyPath(ctx.env, stringOption(ctx, 'key')));
  const version = await releaseVersion(appDir, stringOption(ctx, 'version'));
  const inputs = await gatherReleaseInputs(config, plan, appDir, imageRegistry(config.image), ctx.env.processEnv);
  const ref = parseImageReference(config.image);
  const login = inputs.registry ? { username: inputs.registry.username, password: inputs.registry.password } : undefined;
  const image = pinnedImage(ref, await resolveImageDigest(ref, login));
  const shownImage = ref.digest ? image : `${describeImage(ref)} → ${image.slice(image.indexOf('@') + 1)}`;
  // Only the hosts that run a role get a release (servers: lists them per role).
  const addresses = config.servers.filter((a) => rolesOnHost(plan, formatServerAddress(a)).length > 0);
  const where = config.destination ? ` (destination ${config.destination})` : '';
  if (!ctx.json) ctx.printer.err(`deploying ${config.service} ${version}${where} (${shownImage}) to ${addresses.length} server(s)`);

  const release: Release = { config, plan, inputs, appDir, key, version, image, trustNew: flag(ctx, 'trust-new') };
  const hosts = addresses.map(formatServerAddress);
  const reporter = createPushReporter(ctx.printer, ctx.style, ctx.json ? 'json' : ctx.live ? 'live' : 'plain', hosts);
  const results = await mapBounded(addresses, MAX_PARALLEL_SERVERS, (address) => deployToServer(release, address, reporter));
  reporter.finish(results);
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) throw pushFailure(failed, results.length, inputs.redact);
  if (config.bake !== undefined && !ctx.json) ctx.printer.out(bakeNotice(version, config.bake));
}

async function deployToServer(release: Release, address: ServerAddress, reporter: PushReporter): Promise<HostOutcome> {
  const host = formatServerAddress(address);
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  let deployId: number | undefined;
  try {
    const { client, pin, discovered } = await connectPinned({ appDir: release.appDir, address, key: release.key, trustNew: release.trustNew });
    if (discovered) reporter.update({ host, state: 'PINNED', message: `new server: agent ${pin.agent_id}, certificate SHA256 ${pin.tls_fingerprint}` });
    const identity = await readIdentity(client, pin.tls_fingerprint);
    checkPinnedIdentity(host, pin, identity);
    const required = [...REQUIRED_FEATURES, ...(release.inputs.registry ? ['registry.auth.v1'] : []), ...(release.config.bake !== undefined ? ['bake.v1'] : [])];
    const missing = required.filter((f) => !identity.features.includes(f));
    if (missing.length) throw new UpstreamError(`the agent on ${host} (version ${identity.version}) does not support ${missing.join(', ')}`, `upgrade the agent on ${host}`, 'agent_outdated');

    const { config } = release;
    const current = await readServiceSeq(client, config.service, config.destination);
    const sealing = {
      seal: (plaintext: string) => seal(plaintext, pin.sealing_jwk),
      secret: release.inputs.secret,
      registry: release.inputs.registry,
    };
    const payload = await buildManifestPayload(config, release.plan, host, {
      kid: release.key.kid,
      agentId: pin.agent_id,
      version: release.version,
      image: release.image,
      seq: nextSeq(current, Date.now()),
      nowSeconds: Math.floor(Date.now() / 1000),
    }, sealing);
    const manifest = await signManifest(payload, release.key.privateJwk, release.key.kid);
    const { body } = await client.json('POST', '/v1/releases', { body: { manifest } });
    const accepted = parseDeployRecord({ error: null, ...(body as { deploy?: object } | undefined)?.deploy }, host);
    deployId = accepted.id;
    reporter.update({ host, deployId, state: accepted.state, message: `release ${release.version} accepted as deploy #${accepted.id}` });

    const record: DeployRecord = await followDeploy(client, accepted.id, {
      onEvent: (e) => reporter.update({ host, deployId, state: e.state, message: e.message, at: e.at, ...(e.progress !== undefined ? { progress: e.progress } : {}) }),
    });
    const ok = record.state === 'DONE';
    return { host, release: release.version, ok, state: record.state, seconds: seconds(), deployId, ...(ok ? {} : { error: record.error ?? `deploy ended in ${record.state}` }) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { host, release: release.version, ok: false, state: 'ERROR', seconds: seconds(), ...(deployId !== undefined ? { deployId } : {}), error: message, cause: err };
  }
}

/** One error naming each failed host and why; a single host's typed error keeps its code and hint. */
function pushFailure(failed: HostOutcome[], total: number, redact: (text: string) => string): BerthError {
  const [only] = failed;
  if (failed.length === 1 && only) {
    const reason = redact((only.error ?? '').startsWith(only.host) ? only.error ?? '' : `${only.host}: ${only.error}`);
    if (only.cause instanceof BerthError) return new BerthError(only.cause.code, only.cause.status, `deploy failed on ${reason}`, only.cause.hint);
    return new BerthError('deploy_failed', 502, `deploy failed on ${reason}`, `the previous release keeps serving on ${only.host}`);
  }
  const reasons = redact(failed.map((f) => ((f.error ?? '').startsWith(f.host) ? f.error : `${f.host}: ${f.error}`)).join('; '));
  return new BerthError('deploy_failed', 502, `deploy failed on ${failed.length} of ${total} servers: ${reasons}`, 'servers that failed keep serving their previous release');
}
