// The deploy phase `certificates`, between plan and pull: every host of an
// ssl role gets a certificate the router serves before anything else
// changes. A failure fails the deploy there, so the old release keeps
// serving with its old routes (docs/internals.md "agent/tls").
import { UserError } from '../../shared/errors.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { roleOf } from '../core/containers.js';
import { proxiedRoles, routeName } from '../core/routes.js';
import { event, manifestOf, type RunContext } from './run-context.js';

export async function certificates(ctx: RunContext): Promise<void> {
  const m = manifestOf(ctx);
  const roles = proxiedRoles(m).filter((role) => roleOf(m, role).proxy?.ssl);
  if (roles.length === 0) return;
  const tls = ctx.deps.tls;
  if (!tls) throw new UserError('this agent cannot serve HTTPS (no certificate service)', undefined, 'certificate_failed');
  const open = ctx.deps.unseal ?? defaultUnseal;
  const key = ctx.deps.config.sealingPrivateJwk;
  for (const role of roles) {
    const proxy = roleOf(m, role).proxy!;
    const where = { service: m.service, destination: m.destination, role };
    const given =
      typeof proxy.ssl === 'object'
        ? {
            certPem: await open(proxy.ssl.certificate_pem, key, { use: 'tls-certificate', ...where }),
            keyPem: await open(proxy.ssl.private_key_pem, key, { use: 'tls-key', ...where }),
          }
        : undefined;
    await tls.prepare(
      { service: m.service, destination: m.destination, routeName: routeName(m, role), hosts: [...proxy.hosts], given },
      (message) => event(ctx, 'VERIFIED', message),
    );
  }
}
