// deploy push (alias deploy): resolve the image once, then per server sign a
// manifest for that agent, post it, and follow the deploy to its end, in the
// rollout order of cli/rollout-plan.ts (primary host first, boot.limit batches).

import { imageRegistry } from '../../shared/manifest.js';
import { seal, type SealBinding } from '../../shared/sealing.js';
import { planContainers } from '../config/plan.js';
import { describeImage, parseImageReference, pinnedImage } from '../../shared/image-reference.js';
import { bakeNotice, buildManifestPayload, checkDeployable, planFeatures } from '../manifest-builder.js';
import { backupFeatures } from '../manifest-backups.js';
import { resolveImageDigest } from '../registry.js';
import { gatherReleaseInputs } from '../release-inputs.js';
import { readErrorPages } from '../error-pages.js';
import { releaseVersion } from '../release-version.js';
import { declaredVersion, releaseImage } from '../image-version.js';
import { loadAppConfig, readOperatorKey } from '../app-config.js';
import type { RunContext } from '../command.js';
import { hostsWithRoles, lockWaitSeconds as parseLockWait, rollOut, type ReleaseMaker } from '../rollout/deliver.js';

// What an agent must understand to accept what this CLI sends.
const REQUIRED_FEATURES = ['releases.v1', 'roles.docker.v1'];
// An agent without it would open a bound sealed value anywhere; the CLI
// refuses to hand it secrets rather than deploy them unprotected.
const BOUND_SEALING = 'sealing.bound.v1';

export async function push(ctx: RunContext, options: { version: string | undefined; trustNew: boolean; lockWait: string | undefined }): Promise<void> {
  const lockWaitSeconds = parseLockWait(options.lockWait);
  const { config, appDir } = await loadAppConfig(ctx);
  const plan = planContainers(config);
  for (const warning of checkDeployable(plan)) ctx.printer.err(warning);
  const key = await readOperatorKey(ctx);
  const declared = declaredVersion(options.version, ctx.env.processEnv);
  const version = await releaseVersion(appDir, declared);
  // Before secrets are fetched (which may run commands): a page the router could not serve stops the push here.
  const errorPages = await readErrorPages(appDir, config.error_pages_path);
  const inputs = await gatherReleaseInputs(config, plan, appDir, imageRegistry(config.image), ctx.env.processEnv);
  const { ref, note } = releaseImage(config.image, parseImageReference(config.image), declared);
  if (note && !ctx.json) ctx.printer.err(note);
  const login = inputs.registry ? { username: inputs.registry.username, password: inputs.registry.password } : undefined;
  // The lookup runs while rollOut connects to the first hosts; it is awaited before anything is posted.
  const digest = resolveImageDigest(ref, login);
  digest.catch(() => undefined);
  let image = '';
  const ready = async (): Promise<void> => {
    image = pinnedImage(ref, await digest);
    const shownImage = ref.digest ? image : `${describeImage(ref)} → ${image.slice(image.indexOf('@') + 1)}`;
    const count = hostsWithRoles(config, plan).length;
    const where = config.destination ? ` (destination ${config.destination})` : '';
    if (!ctx.json) ctx.printer.err(`deploying ${config.service} ${version}${where} (${shownImage}) to ${count} server(s)`);
  };

  const maker: ReleaseMaker = {
    requiredFeatures: [
      ...REQUIRED_FEATURES,
      ...(inputs.registry ? ['registry.auth.v1'] : []),
      ...(config.bake !== undefined ? ['bake.v1'] : []),
      ...(inputs.registry || plan.secretNames.length > 0 ? [BOUND_SEALING] : []),
      ...planFeatures(plan, config),
    ],
    hostFeatures: (host) => backupFeatures(config, plan, host),
    async prepare({ host, pin }) {
      const sealing = {
        seal: (plaintext: string, binding: SealBinding) => seal(plaintext, pin.sealing_jwk, binding),
        secret: inputs.secret,
        registry: inputs.registry,
      };
      return ({ seq, nowSeconds }) => buildManifestPayload(config, plan, host, { kid: key.kid, agentId: pin.agent_id, version, image, seq, nowSeconds, processEnv: ctx.env.processEnv, ...(errorPages ? { errorPages } : {}) }, sealing);
    },
  };
  await rollOut(ctx, {
    config, plan, appDir, key, version, maker, lockWaitSeconds,
    trustNew: options.trustNew,
    words: { done: 'deployed', verb: 'deploy' },
    redact: inputs.redact,
    ready,
  });
  if (config.bake !== undefined && !ctx.json) ctx.printer.out(bakeNotice(version, config.bake));
}
