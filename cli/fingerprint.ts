// SHA-256 fingerprints of certificates, in the identity document's format:
// lowercase hex of the DER bytes, no colons.

import { X509Certificate, createHash } from 'node:crypto';
import { UserError } from '../shared/errors.js';

export function fingerprintOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

export function fingerprintOfPem(pem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new UserError('not a PEM certificate');
  }
  return fingerprintOfDer(cert.raw);
}

export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----\n`;
}

/** Accepts what people paste: `AB:CD:…`, `sha256:abcd…`, any case. Throws on anything else. */
export function normalizeFingerprint(text: string): string {
  const hex = text.trim().replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new UserError(`"${text.slice(0, 120)}" is not a SHA-256 fingerprint`, 'expected 64 hex digits (colons allowed), as printed by `berth-agent status` on the server', 'usage');
  }
  return hex;
}
