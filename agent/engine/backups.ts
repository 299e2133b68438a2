// The deploy's backups phase, once the new containers are healthy and before
// the switch: the new release's before_deploy backups are taken (of data the
// old release still writes), tied to the new version. A failed one fails the
// deploy before anything switched: the new containers go, the old keep serving.
import { event, manifestOf, type RunContext } from './run-context.js';

export async function beforeDeployBackups(ctx: RunContext): Promise<void> {
  const hook = ctx.deps.backups;
  const m = manifestOf(ctx);
  if (!hook || !Object.values(m.backups ?? {}).some((b) => b.before_deploy)) return;
  const live = ctx.deps.store.current(m.service, m.destination);
  await hook.beforeDeploy(m, live?.version ?? null, (message) => event(ctx, 'HEALTHY', message));
}
