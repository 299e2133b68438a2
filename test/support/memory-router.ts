// An in-memory stand-in for the router's control socket, for API tests that
// need the route publisher without a router process: it validates route sets
// with the router's own parser and refuses stale versions like the real one.
import { ConflictError, UpstreamError } from '../../shared/errors.js';
import type { RouteSet } from '../../shared/api-types.js';
import { parseRouteSet } from '../../agent/router/table.js';
import type { RouterPort } from '../../agent/engine/types.js';

export class MemoryRouter implements RouterPort {
  live: RouteSet = { version: 0, routes: [] };
  /** While true every call fails as if the socket were gone. */
  down = false;
  accepted = 0;

  async getRoutes(): Promise<RouteSet> {
    this.check();
    return this.live;
  }

  async putRoutes(set: RouteSet): Promise<{ version: number }> {
    this.check();
    const parsed = parseRouteSet(JSON.parse(JSON.stringify(set)));
    if (parsed.version <= this.live.version) {
      throw new ConflictError(`route set version ${parsed.version} is not newer than ${this.live.version}`, undefined, 'stale_version');
    }
    this.live = parsed;
    this.accepted += 1;
    return { version: parsed.version };
  }

  async targets(): Promise<Record<string, { inflight: number }>> {
    this.check();
    return {};
  }

  private check(): void {
    if (this.down) throw new UpstreamError('cannot reach the router: connect ENOENT');
  }
}
