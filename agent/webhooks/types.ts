// The contract between the webhook ingress (the HTTP route on the agent port,
// reached through the router's reserved /.berth/webhooks/ prefix too) and the
// intake that records deliveries and turns verified tag pushes into deploys.
// The ingress answers at once; every slow step (the registry lookup, the
// deploy) happens in the intake after the answer.
import type { Delivery, WebhookSource } from '../core/webhooks/index.js';

/** Who asked the agent to look at a tag: a webhook source, or the agent's own poller (agent/webhooks/poller.ts). */
export type DeliverySource = WebhookSource | 'poll';

/** The service a webhook path's TOKEN names on this agent. */
export interface WebhookTarget {
  service: string;
  destination: string;
}

/** What became of a delivery; the last N are kept per service and shown by `deploy webhook deliveries`. */
export type DeliveryOutcome =
  | 'queued' // verified, waiting for the registry lookup or a running deploy
  | 'deployed' // a deploy of the registry's digest was started (deploy_id)
  | 'already_serving' // the registry's digest is the one serving, or the one a queued deploy will serve
  | 'ignored' // authentic, but nothing to do: untracked repository or tag, not a tag push, duplicate, a digest that failed before
  | 'refused' // not authentic or malformed (401/400/413/415/429): nothing read from it is acted on
  | 'failed'; // the registry lookup or the deploy failed (reason)

export interface WebhookRefused {
  status: number;
  code: string;
  reason: string;
}

export interface WebhookIntake {
  /** Records a verified delivery and schedules its work; returns the id the sender is given (202). */
  accepted(target: WebhookTarget, delivery: Delivery): { deliveryId: string };
  /** Records a request refused after its TOKEN named a service; returns the id the sender is given with the error. */
  refused(target: WebhookTarget, source: WebhookSource, refusal: WebhookRefused): { deliveryId: string };
}
