// Types of the router control protocol. Route and RouteSet are the shared API
// types (docs/router.md "Control protocol").

export type { Route, RouteSet } from '../../shared/api-types.js';

export interface TargetStats {
  inflight: number;
}

export interface RouterHealth {
  ok: true;
  version: number;
  pid: number;
}
