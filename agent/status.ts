// `berth-agent status`: what an operator needs to pin and reach this agent.
import type { AgentConfig } from './config.js';
import type { AgentIdentity } from './identity.js';

export interface AgentStatus {
  agent_id: string;
  tls_fingerprint: string;
  listen: string;
  state_dir: string;
  trusted_keys: number;
}

export function agentStatus(config: AgentConfig, identity: AgentIdentity, trustedKeys: number): AgentStatus {
  const { host, port } = config.listen;
  return {
    agent_id: identity.agentId,
    tls_fingerprint: identity.tlsFingerprint,
    listen: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    state_dir: config.stateDir,
    trusted_keys: trustedKeys,
  };
}

export function renderStatus(s: AgentStatus, json: boolean): string {
  if (json) return `${JSON.stringify(s)}\n`;
  return [
    `agent id:        ${s.agent_id}`,
    `tls fingerprint: ${s.tls_fingerprint}`,
    `listen:          ${s.listen}`,
    `state dir:       ${s.state_dir}`,
    `trusted keys:    ${s.trusted_keys}${s.trusted_keys === 0 ? ' (every authenticated request is refused)' : ''}`,
  ].join('\n') + '\n';
}
