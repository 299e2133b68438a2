// Learning and checking an agent's identity: the certificate seen on the wire,
// the self-signed identity document, and the pin recorded in known_agents.

import type { IdentityClaims } from '../../shared/api-types.js';
import { AuthError, BerthError, PinMismatchError, UserError } from '../../shared/errors.js';
import { verifyIdentity } from '../../shared/identity.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import { AgentClient, fetchPeerCertificate } from './client.js';
import { readIdentityDocument } from './endpoints.js';
import type { OperatorKeyFile } from '../keys.js';
import { readKnownAgents, recordKnownAgent, type KnownAgent } from './known-agents.js';

/** GET /v1/identity over an already pinned connection; the signed document must name that certificate. */
export async function readIdentity(client: AgentClient, tlsFingerprint: string): Promise<IdentityClaims> {
  const document = await readIdentityDocument(client);
  let claims: IdentityClaims;
  try {
    claims = await verifyIdentity(document);
  } catch (err) {
    const message = err instanceof BerthError ? err.message : 'invalid identity document';
    throw new AuthError(`${client.label}: ${message}`, 'the server is not a berth agent, or its identity files are damaged', 'identity_invalid');
  }
  if (claims.tls_fingerprint !== tlsFingerprint) {
    throw new PinMismatchError(
      `${client.label}: the identity document names certificate ${claims.tls_fingerprint}, but the server presented ${tlsFingerprint}`,
      'something between you and the agent terminates TLS, or the agent certificate changed without its identity document being renewed',
    );
  }
  return claims;
}

export interface DiscoveredAgent {
  label: string;
  claims: IdentityClaims;
  entry: KnownAgent;
}

/** First contact: fetch the certificate, then read and verify the identity over a connection pinned to it. */
export async function discoverAgent(address: ServerAddress, options: { expectedFingerprint?: string; timeoutMs?: number; now?: Date } = {}): Promise<DiscoveredAgent> {
  const label = formatServerAddress(address);
  const cert = await fetchPeerCertificate(address, options.timeoutMs);
  if (options.expectedFingerprint !== undefined && options.expectedFingerprint !== cert.fingerprint) {
    throw new PinMismatchError(
      `${label} presented certificate ${cert.fingerprint}, not the expected ${options.expectedFingerprint}`,
      'compare with the fingerprint `berth-agent status` prints on the server; do not pin a server you cannot vouch for',
    );
  }
  const client = new AgentClient({ address, certificate: cert.pem, tlsFingerprint: cert.fingerprint }, undefined, { timeoutMs: options.timeoutMs });
  const claims = await readIdentity(client, cert.fingerprint);
  return {
    label,
    claims,
    entry: {
      agent_id: claims.agent_id,
      certificate: cert.pem,
      tls_fingerprint: cert.fingerprint,
      sealing_jwk: claims.sealing_jwk,
      added_at: (options.now ?? new Date()).toISOString(),
    },
  };
}

/** A later contact: the identity behind the pinned certificate must still be the pinned agent. */
export function checkPinnedIdentity(label: string, pin: KnownAgent, claims: IdentityClaims): void {
  if (claims.agent_id !== pin.agent_id || claims.sealing_jwk.x !== pin.sealing_jwk.x) {
    throw new PinMismatchError(
      `${label} now identifies as agent ${claims.agent_id}, but .berth/known_agents pins agent ${pin.agent_id}`,
      `if the server was reinstalled on purpose, re-pin with \`deploy server add ${label} --replace\``,
    );
  }
}

export interface PinnedConnection {
  client: AgentClient;
  pin: KnownAgent;
  /** Set when this contact pinned the server (--trust-new). */
  discovered?: DiscoveredAgent;
}

/** A signed, pinned client for a server in known_agents; with trustNew a server seen for the first time is pinned now. */
export async function connectPinned(options: {
  appDir: string;
  address: ServerAddress;
  key: OperatorKeyFile;
  trustNew: boolean;
  timeoutMs?: number;
  /** Ends the client's requests when aborted (see AgentClient). */
  signal?: AbortSignal;
}): Promise<PinnedConnection> {
  const label = formatServerAddress(options.address);
  let pin = (await readKnownAgents(options.appDir))[label];
  let discovered: DiscoveredAgent | undefined;
  if (!pin) {
    if (!options.trustNew) {
      throw new UserError(`unknown server ${label}; run \`deploy server add ${label}\` first`, 'or pass --trust-new to `deploy push` to pin servers on first contact', 'unknown_server');
    }
    discovered = await discoverAgent(options.address, { timeoutMs: options.timeoutMs });
    await recordKnownAgent(options.appDir, label, discovered.entry, { replace: false });
    pin = discovered.entry;
  }
  const client = new AgentClient(
    { address: options.address, certificate: pin.certificate, tlsFingerprint: pin.tls_fingerprint },
    { key: options.key, agentId: pin.agent_id },
    { timeoutMs: options.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
  );
  return { client, pin, ...(discovered ? { discovered } : {}) };
}
