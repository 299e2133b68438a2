// deploy webhook url: where a registry or CI delivers tag pushes, per server
// and source. Each URL holds the service's TOKEN on that server (a credential:
// it is printed here and nowhere else, and reading it needs scope deploy).
// Two forms: through the app's first proxy host (the router forwards
// /.berth/webhooks/ on every host) and the agent's own API port.

import type { WebhookUrlResponse } from '../../shared/api-responses.js';
import { readWebhookUrls } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import type { DeployConfig } from '../config/schema.js';
import { renderTable } from '../output/table.js';
import { sanitize } from '../output/style.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson } from '../rollout/hosts.js';

export interface WebhookUrl {
  source: string;
  /** Through the router, on the app's first proxy host; null when the app has no proxy host. */
  url: string | null;
  /** On the agent's API port (its certificate is the agent's own, pinned by the CLI, not a public one). */
  agent_url: string;
}

export interface ServerWebhooks {
  policy: WebhookUrlResponse['policy'];
  urls: WebhookUrl[];
}

/** The primary role's first proxy host, else any proxied role's, with the scheme its router serves. */
export function proxyOrigin(config: Pick<DeployConfig, 'roles'>): string | null {
  const roles = [...config.roles].sort((a, b) => Number(b.primary) - Number(a.primary));
  for (const role of roles) {
    const host = role.proxy?.hosts[0];
    if (role.proxy && host !== undefined) return `${role.proxy.ssl ? 'https' : 'http'}://${host}`;
  }
  return null;
}

export function serverWebhooks(answer: WebhookUrlResponse, origin: string | null, server: string): ServerWebhooks {
  return {
    policy: answer.policy,
    urls: answer.urls.map((u) => ({ source: u.source, url: origin === null ? null : `${origin}${u.path}`, agent_url: `https://${server}${u.path}` })),
  };
}

export async function webhookUrl(ctx: RunContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const origin = proxyOrigin(fleet.config);
  const outcomes = await onEveryServer(fleet, async (client, host) => {
    const answer = await readWebhookUrls(client, { service, destination });
    return answer === null ? null : serverWebhooks(answer, origin, host);
  });
  if (ctx.json) {
    ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, 'webhooks')) });
  } else {
    const rows = outcomes.flatMap((o): string[][] => {
      if (!o.ok) return [[o.host, '-', `error: ${sanitize(o.error, 300)}`]];
      if (o.value === null) return [[o.host, '-', 'never deployed']];
      if (o.value.policy === null) return [[o.host, '-', 'no auto_deploy policy in the serving release']];
      if (o.value.urls.length === 0) return [[o.host, '-', 'the policy accepts no webhook sources (poll only)']];
      return o.value.urls.flatMap((u) => [...(u.url === null ? [] : [[o.host, u.source, u.url]]), [o.host, u.source, u.agent_url]]);
    });
    ctx.printer.out(renderTable(['HOST', 'SOURCE', 'URL'], rows));
  }
  const failure = hostsFailure(outcomes, { doing: 'read the webhook URLs' });
  if (failure) throw failure;
}
