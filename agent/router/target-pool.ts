// One keep-alive connection pool per target. Pools of targets that left the
// route table are closed once their last request is done, so old containers
// are not held open by idle sockets.

import { Agent } from 'node:http';

// Well below the idle timeouts of common app servers (Node 5 s, gunicorn 2 s),
// so the router drops an idle socket before the target does; a POST sent on a
// socket the target just closed cannot be retried safely.
const FREE_SOCKET_TIMEOUT_MS = 1_000;

export class TargetPool {
  readonly #agents = new Map<string, Agent>();
  #routed = new Set<string>();

  agentFor(target: string): Agent {
    let agent = this.#agents.get(target);
    if (!agent) {
      agent = new Agent({
        keepAlive: true,
        keepAliveMsecs: 1_000,
        maxSockets: 512,
        maxFreeSockets: 64,
        timeout: FREE_SOCKET_TIMEOUT_MS,
        // Most recently used sockets are the least likely to have been closed by the target.
        scheduling: 'lifo',
      });
      this.#agents.set(target, agent);
    }
    return agent;
  }

  /** Records the routed targets; closes pools of unrouted targets that are idle now. */
  setRouted(targets: Iterable<string>, isBusy: (target: string) => boolean): void {
    this.#routed = new Set(targets);
    for (const target of [...this.#agents.keys()]) {
      if (!isBusy(target)) this.releaseIfUnrouted(target);
    }
  }

  /** Called when a target's last in-flight request finished. */
  releaseIfUnrouted(target: string): void {
    if (this.#routed.has(target)) return;
    const agent = this.#agents.get(target);
    if (!agent) return;
    this.#agents.delete(target);
    agent.destroy();
  }

  destroyAll(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}
