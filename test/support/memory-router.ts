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
  /**
   * What the next putRoutes calls do instead of a plain accept, one entry per
   * call: `refuse` fails without applying, `lost-answer` applies the set and
   * then fails, as a router whose answer timed out.
   */
  putFaults: Array<'refuse' | 'lost-answer'> = [];

  async getRoutes(): Promise<RouteSet> {
    this.check();
    return this.live;
  }

  async putRoutes(set: RouteSet): Promise<{ version: number }> {
    this.check();
    const fault = this.putFaults.shift();
    if (fault === 'refuse') throw new UpstreamError('router refused the route set');
    const parsed = parseRouteSet(JSON.parse(JSON.stringify(set)));
    if (parsed.version <= this.live.version) {
      throw new ConflictError(`route set version ${parsed.version} is not newer than ${this.live.version}`, undefined, 'stale_version');
    }
    this.live = parsed;
    this.accepted += 1;
    if (fault === 'lost-answer') throw new UpstreamError('router did not answer within 5s');
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
