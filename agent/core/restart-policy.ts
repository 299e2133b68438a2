// PURE: Docker restart policies. App containers get unless-stopped (as Kamal
// runs them) and one-off containers no; an accessory may choose its own, as
// Kamal's accessories do with `options: restart: always`.
import { UserError } from '../../shared/errors.js';
import type { AccessorySpec } from '../../shared/manifest.js';

export interface RestartPolicy {
  name: 'unless-stopped' | 'no' | 'always' | 'on-failure';
  /** on-failure only: how many restarts Docker tries. */
  maxRetries?: number;
}

const RESTART = /^(no|always|unless-stopped|on-failure(?::([1-9][0-9]{0,3}))?)$/;

/**
 * An accessory's restart policy from its `options` (unless-stopped when none
 * is given) and the other options; a value Docker does not know is refused.
 */
export function accessoryRestart(name: string, options: AccessorySpec['options']): { restart: RestartPolicy; options: AccessorySpec['options'] } {
  if (options === undefined || !Object.hasOwn(options, 'restart')) return { restart: { name: 'unless-stopped' }, options };
  const { restart: value, ...rest } = options;
  const m = RESTART.exec(String(value));
  if (!m || Array.isArray(value)) {
    throw new UserError(`accessory ${name}: option restart ${JSON.stringify(String(value).slice(0, 40))} is not a restart policy`, 'use no, always, unless-stopped or on-failure[:N]', 'invalid_input');
  }
  const policyName = (m[1] as string).startsWith('on-failure') ? 'on-failure' : (m[1] as RestartPolicy['name']);
  return { restart: { name: policyName, ...(m[2] !== undefined ? { maxRetries: Number(m[2]) } : {}) }, options: rest };
}
